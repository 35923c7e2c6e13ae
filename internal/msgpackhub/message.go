package msgpackhub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Hub protocol message types (HubProtocol.md).
const (
	TypeInvocation       = 1
	TypeStreamItem       = 2
	TypeCompletion       = 3
	TypeStreamInvocation = 4
	TypeCancelInvocation = 5
	TypePing             = 6
	TypeClose            = 7
)

// Result kinds of a Completion message.
const (
	resultError = 1
	resultVoid  = 2
	resultValue = 3
)

// encode appends what write encodes to dst. The encoder only fails when its
// writer does, and a bytes.Buffer does not.
func encode(dst []byte, write func(enc *msgpack.Encoder) error) []byte {
	buf := bytes.NewBuffer(dst)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	if err := write(enc); err != nil {
		panic("msgpackhub: encoding to memory failed: " + err.Error())
	}
	return buf.Bytes()
}

// AppendInvocation appends the Invocation message
// [1, {}, nil, target, arguments] that a send without a completion delivers;
// arguments is a JSON array (nil or empty: none), converted to MessagePack.
func AppendInvocation(dst []byte, target string, arguments []byte) ([]byte, error) {
	start := len(dst)
	dst = encode(dst, func(enc *msgpack.Encoder) error {
		enc.EncodeArrayLen(5)
		enc.EncodeInt(TypeInvocation)
		enc.EncodeMapLen(0)
		enc.EncodeNil()
		return enc.EncodeString(target)
	})
	if len(bytes.TrimSpace(arguments)) == 0 {
		return append(dst, 0x90), nil // an empty fixarray
	}
	if bytes.TrimSpace(arguments)[0] != '[' {
		return dst[:start], errors.New("the arguments are not a JSON array")
	}
	out, err := AppendJSONAsMsgpack(dst, arguments)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// AppendPing appends the Ping message [6].
func AppendPing(dst []byte) []byte {
	return append(dst, 0x91, TypePing)
}

// AppendClose appends the Close message [7, error, allowReconnect]; an empty
// reason is written nil.
func AppendClose(dst []byte, reason string, allowReconnect bool) []byte {
	return encode(dst, func(enc *msgpack.Encoder) error {
		enc.EncodeArrayLen(3)
		enc.EncodeInt(TypeClose)
		if reason == "" {
			enc.EncodeNil()
		} else {
			enc.EncodeString(reason)
		}
		return enc.EncodeBool(allowReconnect)
	})
}

// AppendCompletionError appends the Completion message
// [3, {}, invocationID, 1, message].
func AppendCompletionError(dst []byte, invocationID, message string) []byte {
	return encode(dst, func(enc *msgpack.Encoder) error {
		completionHead(enc, invocationID, resultError, 5)
		return enc.EncodeString(message)
	})
}

// AppendCompletionVoid appends the Completion message
// [3, {}, invocationID, 2]: completed without a result.
func AppendCompletionVoid(dst []byte, invocationID string) []byte {
	return encode(dst, func(enc *msgpack.Encoder) error {
		return completionHead(enc, invocationID, resultVoid, 4)
	})
}

// AppendCompletionResult appends the Completion message
// [3, {}, invocationID, 3, result], result being a JSON value converted to
// MessagePack.
func AppendCompletionResult(dst []byte, invocationID string, result []byte) ([]byte, error) {
	start := len(dst)
	dst = encode(dst, func(enc *msgpack.Encoder) error {
		return completionHead(enc, invocationID, resultValue, 5)
	})
	out, err := AppendJSONAsMsgpack(dst, result)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func completionHead(enc *msgpack.Encoder, invocationID string, kind, n int) error {
	enc.EncodeArrayLen(n)
	enc.EncodeInt(TypeCompletion)
	enc.EncodeMapLen(0)
	enc.EncodeString(invocationID)
	return enc.EncodeInt(int64(kind))
}

// MessageType reads the type of a hub message: the integer that starts its
// array.
func MessageType(msg []byte) (int, error) {
	d := msgpack.NewDecoder(bytes.NewReader(msg))
	n, err := d.DecodeArrayLen()
	if err != nil || n < 1 {
		return 0, errors.New("the message is not a MessagePack array starting with its type")
	}
	code, err := d.PeekCode()
	if err != nil || !(msgpcode.IsFixedNum(code) || code >= msgpcode.Uint8 && code <= msgpcode.Int64) {
		return 0, errors.New("the message type is not an integer")
	}
	t, err := d.DecodeInt64()
	if err != nil {
		return 0, errors.New("the message type is not an integer")
	}
	return int(t), nil
}

// Invocation is an Invocation message:
// [1, headers, invocationId, target, [arguments], [streamIds]?].
type Invocation struct {
	// InvocationID is the id the caller awaits a completion for; empty
	// (nil on the wire) when it awaits none.
	InvocationID string
	Target       string
	// Arguments are the arguments converted to JSON (see the package
	// documentation), in order.
	Arguments []json.RawMessage
	// StreamIDs are the ids of the streams the caller sends as arguments;
	// nil when it sends none.
	StreamIDs []string
}

// ParseInvocation reads an Invocation message (without its length prefix).
// Headers are read and not kept.
func ParseInvocation(msg []byte) (Invocation, error) {
	var inv Invocation
	r := bytes.NewReader(msg)
	d := msgpack.NewDecoder(r)
	n, err := d.DecodeArrayLen()
	if err != nil {
		return inv, errors.New("the invocation is not a MessagePack array")
	}
	if n < 5 || n > 6 {
		return inv, fmt.Errorf("the invocation array has %d elements; want 5 or 6", n)
	}
	if t, err := d.DecodeInt64(); err != nil || t != TypeInvocation {
		return inv, errors.New("the message type is not 1 (invocation)")
	}
	// Headers: a map of strings to strings.
	nh, err := d.DecodeMapLen()
	if err != nil {
		return inv, errors.New("the invocation headers are not a map")
	}
	for range max(nh, 0) * 2 {
		if _, err := d.DecodeString(); err != nil {
			return inv, errors.New("the invocation headers are not a map of strings")
		}
	}
	code, err := d.PeekCode()
	if err != nil {
		return inv, truncated(err)
	}
	if code == msgpcode.Nil {
		_ = d.DecodeNil()
	} else if inv.InvocationID, err = d.DecodeString(); err != nil {
		return inv, errors.New("the invocation id is neither a string nor nil")
	}
	if inv.Target, err = d.DecodeString(); err != nil {
		return inv, errors.New("the invocation target is not a string")
	}
	na, err := d.DecodeArrayLen()
	if err != nil || na < 0 {
		return inv, errors.New("the invocation arguments are not an array")
	}
	c := converter{dec: d, r: r, size: len(msg)}
	inv.Arguments = []json.RawMessage{}
	for range na {
		arg, err := c.value(nil, 1)
		if err != nil {
			return inv, fmt.Errorf("argument %d: %w", len(inv.Arguments), err)
		}
		inv.Arguments = append(inv.Arguments, arg)
	}
	if n == 6 {
		ns, err := d.DecodeArrayLen()
		if err != nil {
			return inv, errors.New("the invocation stream ids are not an array")
		}
		for range max(ns, 0) {
			id, err := d.DecodeString()
			if err != nil {
				return inv, errors.New("the invocation stream ids are not strings")
			}
			inv.StreamIDs = append(inv.StreamIDs, id)
		}
	}
	if r.Len() > 0 {
		return inv, fmt.Errorf("%d bytes after the invocation", r.Len())
	}
	return inv, nil
}

// CloseError returns the error of a Close message [7, error|nil, …]; empty
// when it has none or msg is not one.
func CloseError(msg []byte) string {
	d := msgpack.NewDecoder(bytes.NewReader(msg))
	if n, err := d.DecodeArrayLen(); err != nil || n < 2 {
		return ""
	}
	if t, err := d.DecodeInt64(); err != nil || t != TypeClose {
		return ""
	}
	if code, err := d.PeekCode(); err != nil || !msgpcode.IsString(code) {
		return ""
	}
	s, _ := d.DecodeString()
	return s
}
