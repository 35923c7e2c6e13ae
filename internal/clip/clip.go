// Package clip bounds the values that error messages and log lines echo
// back: an id, a path or a header sent by a caller (or by a service) can be
// as long as the request that carried it, and a message or a log line that
// copies it whole lets anyone inflate responses and logs at will.
package clip

// MaxRunes is how many characters of an echoed value are kept.
const MaxRunes = 200

// Ellipsis marks a value that was cut.
const Ellipsis = "…"

// String returns s when it holds at most 200 characters, else its first
// 200 characters followed by Ellipsis. It never splits a UTF-8
// sequence; invalid bytes count as one character each.
func String(s string) string {
	if len(s) <= MaxRunes {
		return s // at most MaxRunes bytes: at most MaxRunes characters
	}
	n := 0
	for i := range s {
		if n == MaxRunes {
			return s[:i] + Ellipsis
		}
		n++
	}
	return s
}
