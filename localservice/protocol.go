package localservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The SignalR JSON hub protocol (dotnet/aspnetcore src/SignalR/docs/specs/HubProtocol.md):
// every message is one JSON object followed by the record separator 0x1E, and
// one transport frame may carry several messages or part of one.

// recordSeparator ends every message of the JSON hub protocol.
const recordSeparator = 0x1e

// Hub protocol message types.
const (
	msgInvocation       = 1
	msgStreamItem       = 2
	msgCompletion       = 3
	msgStreamInvocation = 4
	msgCancelInvocation = 5
	msgPing             = 6
	msgClose            = 7
)

// maxMessageSize bounds one message a client may send and one REST body: the
// service's own message limit.
const maxMessageSize = 1 << 20

var (
	// handshakeOK is the handshake response that accepts the client.
	handshakeOK = []byte("{}\x1e")
	// pingFrame is the keep-alive the service sends every PingInterval.
	pingFrame = []byte(`{"type":6}` + "\x1e")
)

// errMessageTooLarge is returned by messageReader.feed when a message grows
// beyond its limit without a record separator.
var errMessageTooLarge = errors.New("message is larger than the limit")

// messageReader splits a stream of transport frames into hub-protocol
// messages, keeping a partial message until the rest of it arrives.
type messageReader struct {
	buf []byte // bytes after the last record separator seen
	max int    // largest message accepted; 0 means maxMessageSize
}

// feed appends p to what was read before and returns the complete messages,
// without their separators. The returned slices are not modified by later
// calls. It fails when an unterminated message exceeds the limit.
func (r *messageReader) feed(p []byte) ([][]byte, error) {
	limit := r.max
	if limit <= 0 {
		limit = maxMessageSize
	}
	data := append(r.buf, p...)
	last := bytes.LastIndexByte(data, recordSeparator)
	if last < 0 {
		if len(data) > limit {
			r.buf = nil
			return nil, errMessageTooLarge
		}
		r.buf = data
		return nil, nil
	}
	var records [][]byte
	for rest := data[:last+1]; len(rest) > 0; {
		i := bytes.IndexByte(rest, recordSeparator)
		if i > limit {
			r.buf = nil
			return nil, errMessageTooLarge
		}
		records = append(records, rest[:i:i])
		rest = rest[i+1:]
	}
	// The records alias data; the rest moves to a fresh array so that later
	// appends never write over them.
	r.buf = bytes.Clone(data[last+1:])
	if len(r.buf) > limit {
		r.buf = nil
		return records, errMessageTooLarge
	}
	return records, nil
}

// handshakeRequest is the first message a client sends.
type handshakeRequest struct {
	Protocol *string `json:"protocol"`
	Version  *int    `json:"version"`
}

// checkHandshake parses a handshake request and answers with the handshake
// response to send: handshakeOK, or an error response after which the
// connection is closed.
func checkHandshake(record []byte) (response []byte, ok bool) {
	var req handshakeRequest
	if err := json.Unmarshal(record, &req); err != nil {
		return handshakeError("An unexpected error occurred during connection handshake. InvalidDataException: the handshake request is not a JSON object."), false
	}
	switch {
	case req.Protocol == nil:
		return handshakeError("An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'protocol'."), false
	case req.Version == nil:
		return handshakeError("An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'version'."), false
	case *req.Protocol != "json":
		return handshakeError(fmt.Sprintf("Requested protocol '%s' is not available.", *req.Protocol)), false
	case *req.Version != 1:
		return handshakeError(fmt.Sprintf("The server does not support version %d of the 'json' protocol.", *req.Version)), false
	}
	return handshakeOK, true
}

// handshakeError is a handshake response refusing the client.
func handshakeError(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return append(b, recordSeparator)
}

// messageType reads the type of a hub-protocol message.
func messageType(record []byte) (int, error) {
	var m struct {
		Type *int `json:"type"`
	}
	if err := json.Unmarshal(record, &m); err != nil {
		return 0, errors.New("message is not a JSON object with an integer type")
	}
	if m.Type == nil {
		return 0, errors.New("message has no type")
	}
	return *m.Type, nil
}

// invocationFrame is the message a REST send delivers to clients:
// {"type":1,"target":T,"arguments":[...]} and the separator. arguments must be
// a JSON array (nil means none); it is compacted so that the frame holds no
// line breaks, which Server-Sent Events would split.
func invocationFrame(target string, arguments json.RawMessage) ([]byte, error) {
	t, err := json.Marshal(target)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(`{"type":1,"target":,"arguments":}`) + len(t) + len(arguments) + 1)
	b.WriteString(`{"type":1,"target":`)
	b.Write(t)
	b.WriteString(`,"arguments":`)
	if len(arguments) == 0 {
		b.WriteString("[]")
	} else if err := json.Compact(&b, arguments); err != nil {
		return nil, err
	}
	b.WriteString("}\x1e")
	return b.Bytes(), nil
}

// closeFrame is a Close message; an empty reason leaves out "error".
func closeFrame(reason string, allowReconnect bool) []byte {
	b, _ := json.Marshal(struct {
		Type           int    `json:"type"`
		Error          string `json:"error,omitempty"`
		AllowReconnect bool   `json:"allowReconnect,omitempty"`
	}{msgClose, reason, allowReconnect})
	return append(b, recordSeparator)
}
