// Package hubname holds Azure SignalR Service's rule for hub names, which
// the settings, the bindings and the embedded local service all apply: a
// letter, then up to 127 letters, digits or any of _`,.[]
package hubname

import (
	"regexp"
	"strconv"

	"github.com/funcsignalr/funcsignalr/internal/clip"
)

// MaxLength is the longest hub name the service accepts.
const MaxLength = 128

// Pattern matches the hub (and application) names the service accepts.
var Pattern = regexp.MustCompile("^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$")

// Problem returns why the service refuses name as a hub name, or "" when
// it accepts it. The name is quoted and clipped in the answer.
func Problem(name string) string {
	switch {
	case Pattern.MatchString(name):
		return ""
	case name == "":
		return "hub name is empty"
	case len(name) > MaxLength:
		return "hub name is longer than " + strconv.Itoa(MaxLength) + " characters"
	case !isLetter(name[0]):
		return "hub name " + clip.Quote(name) + " must start with a letter"
	default:
		return "hub name " + clip.Quote(name) + " may only hold letters, digits and _`,.[]"
	}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
