package testkit

import "encoding/json"

// ErrorCode returns the code of an error answer's body,
// {"error":{"code":"…","message":"…"}}, or "" when body is not one. It
// never fails the test, so goroutines other than the test's may call it.
func ErrorCode(body string) string {
	var e struct {
		Error struct{ Code string }
	}
	json.Unmarshal([]byte(body), &e) // anything else leaves Code empty
	return e.Error.Code
}
