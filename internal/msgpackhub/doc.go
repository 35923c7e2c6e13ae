// Package msgpackhub holds the MessagePack hub protocol of SignalR as the
// local service and the upstream endpoint need it: the varint
// length-prefixed framing, the messages they exchange (invocation,
// completion, ping, close), and the conversion of argument values between
// JSON and MessagePack.
//
// The protocol is specified in dotnet/aspnetcore
// src/SignalR/docs/specs/HubProtocol.md ("MessagePack Encoding"). The value
// encoding uses github.com/vmihailenco/msgpack/v5; the framing is the
// protocol's own.
//
// Value conversion, JSON to MessagePack: a number written without a fraction
// or exponent becomes an integer when it fits int64 or uint64 (in its
// smallest encoding, unsigned when positive, as MessagePack-CSharp and
// @msgpack/msgpack write integers), any other number a float64 (never a
// float32; past ±1.8e308 an infinity, as JSON.parse gives), and strings,
// booleans, null, arrays and maps (in their key order) stay themselves.
//
// MessagePack to JSON: integers and floats become numbers (a float32 in its
// shortest float32 form); strings and booleans, nil, arrays and maps stay
// themselves; binary becomes a base64 string (standard alphabet, padded), as
// System.Text.Json and Json.NET write a byte[]; a timestamp (extension -1)
// becomes an RFC 3339 string in UTC with nanoseconds. Map keys that are not
// strings become the text of their JSON form (1 → "1", true → "true", nil →
// "null", binary → base64), as JavaScript does with object keys; an array or
// map as a key is an error. Other extension types, NaN and infinities have no
// JSON form and are errors.
package msgpackhub
