// Package clip bounds the values that error messages and log lines echo
// back: an id, a path or a header sent by a caller (or by a service) can be
// as long as the request that carried it, and a message or a log line that
// copies it whole lets anyone inflate responses and logs at will.
package clip

import "strconv"

// MaxRunes is how many characters of an echoed value String keeps.
const MaxRunes = 200

// Ellipsis marks a value that was cut.
const Ellipsis = "…"

// String returns s when it holds at most 200 characters, else its first
// 200 characters followed by Ellipsis: N(s, MaxRunes).
func String(s string) string { return N(s, MaxRunes) }

// N returns s when it holds at most max characters, else its first max
// characters followed by Ellipsis. It never splits a UTF-8 sequence;
// invalid bytes count as one character each.
func N(s string, max int) string {
	if len(s) <= max {
		return s // at most max bytes: at most max characters
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + Ellipsis
		}
		n++
	}
	return s
}

// Quote is String(s) quoted as Go quotes strings, so that control
// characters and invalid UTF-8 in s cannot forge log lines or messages.
func Quote(s string) string { return strconv.Quote(String(s)) }
