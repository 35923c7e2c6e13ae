// Package jsonkind names the kind of a JSON value (object, array, string,
// number, boolean, null) for error messages that say what a caller sent
// instead of what was wanted: "arguments is a string; want an array".
package jsonkind

import "bytes"

// Of names the kind of the JSON value raw starts with ("empty" for
// nothing but white space). It looks at the first byte only: raw is taken
// to be valid JSON.
func Of(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// Article puts the indefinite article before a kind from Of: "an object",
// "a string", and "null" as it is.
func Article(kind string) string {
	switch kind {
	case "object", "array", "empty":
		return "an " + kind
	case "null":
		return kind
	default:
		return "a " + kind
	}
}
