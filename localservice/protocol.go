package localservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
)

// The SignalR hub protocols (dotnet/aspnetcore src/SignalR/docs/specs/HubProtocol.md).
// JSON: every message is one JSON object followed by the record separator
// 0x1E, and one transport frame may carry several messages or part of one.
// MessagePack (package msgpackhub): every message is an array preceded by
// its varint length. Both start with the same JSON handshake; a client picks
// its protocol there.

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

// maxMessageSize bounds one REST body and, by default, one message a client
// may send: the service's own message limit.
const maxMessageSize = 1 << 20

var (
	// handshakeOK is the handshake response that accepts the client.
	handshakeOK = []byte("{}\x1e")
	// pingFrame is the keep-alive the service sends every PingInterval.
	pingFrame = []byte(`{"type":6}` + "\x1e")
)

// MessagePack messages the service sends (HubProtocol.md, "MessagePack
// Encoding"): length-prefixed arrays.
var msgpackPingFrame = msgpackhub.AppendFrame(nil, msgpackhub.AppendPing(nil))

// closeMessage is a Close message for c's hub protocol; an empty reason
// leaves out the error.
func (c *conn) closeMessage(reason string, allowReconnect bool) []byte {
	if c.binary.Load() {
		return msgpackhub.AppendFrame(nil, msgpackhub.AppendClose(nil, reason, allowReconnect))
	}
	return closeFrame(reason, allowReconnect)
}

// closeMessages is one Close message, serialized at most once per protocol
// for the many connections it goes to.
type closeMessages struct {
	reason         string
	allowReconnect bool
	json, msgpack  []byte
}

// forConn returns the message in c's protocol.
func (m *closeMessages) forConn(c *conn) []byte {
	if c.binary.Load() {
		if m.msgpack == nil {
			m.msgpack = msgpackhub.AppendFrame(nil, msgpackhub.AppendClose(nil, m.reason, m.allowReconnect))
		}
		return m.msgpack
	}
	if m.json == nil {
		m.json = closeFrame(m.reason, m.allowReconnect)
	}
	return m.json
}

// sendMessage is an invocation a REST send delivers, serialized at most once
// per protocol however many connections it goes to.
type sendMessage struct {
	target    string
	arguments json.RawMessage // a compact JSON array, or nil
	json      []byte          // the JSON frame
	msgpack   []byte          // the MessagePack frame, made on first use
	mpErr     error
}

// newSendMessage validates target and arguments (a JSON array, or nil for
// none) and serializes the JSON frame.
func newSendMessage(target string, arguments json.RawMessage) (*sendMessage, error) {
	f, err := invocationFrame(target, arguments)
	if err != nil {
		return nil, err
	}
	return &sendMessage{target: target, arguments: arguments, json: f}, nil
}

// forConn returns the frame in c's protocol, or an error when the arguments
// have no MessagePack form.
func (m *sendMessage) forConn(c *conn) ([]byte, error) {
	if !c.binary.Load() {
		return m.json, nil
	}
	if m.msgpack == nil && m.mpErr == nil {
		msg, err := msgpackhub.AppendInvocation(nil, m.target, m.arguments)
		if err != nil {
			m.mpErr = fmt.Errorf("convert the arguments to MessagePack: %w", err)
		} else {
			m.msgpack = msgpackhub.AppendFrame(make([]byte, 0, len(msg)+5), msg)
		}
	}
	return m.msgpack, m.mpErr
}

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
	limit := r.limit()
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

// limit is the largest message r accepts.
func (r *messageReader) limit() int {
	if r.max <= 0 {
		return maxMessageSize
	}
	return r.max
}

// handshakeRequest is the first message a client sends.
type handshakeRequest struct {
	Protocol *string `json:"protocol"`
	Version  *int    `json:"version"`
}

// checkHandshake parses a handshake request received over transport t and
// answers with the handshake response to send: handshakeOK and the chosen
// protocol, or an error response after which the connection is closed.
func checkHandshake(record []byte, t transportKind) (response []byte, binary bool, ok bool) {
	var req handshakeRequest
	if err := json.Unmarshal(record, &req); err != nil {
		return handshakeError("An unexpected error occurred during connection handshake. InvalidDataException: the handshake request is not a JSON object."), false, false
	}
	switch {
	case req.Protocol == nil:
		return handshakeError("An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'protocol'."), false, false
	case req.Version == nil:
		return handshakeError("An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'version'."), false, false
	case *req.Protocol != "json" && *req.Protocol != "messagepack":
		return handshakeError(fmt.Sprintf("Requested protocol '%s' is not available.", *req.Protocol)), false, false
	case *req.Version != 1:
		return handshakeError(fmt.Sprintf("The server does not support version %d of the '%s' protocol.", *req.Version, *req.Protocol)), false, false
	}
	binary = *req.Protocol == "messagepack"
	if binary && t == transportServerSentEvents {
		// ASP.NET Core's HubConnectionHandler words it this way; Server-Sent
		// Events carry text only.
		return handshakeError("Cannot use the 'messagepack' protocol on the current transport (ServerSentEvents): the transport does not support the 'Binary' transfer format."), false, false
	}
	return handshakeOK, binary, true
}

// jsonRecord is v in the JSON hub protocol: its JSON and the record
// separator.
func jsonRecord(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, recordSeparator)
}

// handshakeError is a handshake response refusing the client.
func handshakeError(msg string) []byte {
	return jsonRecord(struct {
		Error string `json:"error"`
	}{msg})
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
	b := invocationHead(nil, target, len(arguments)+len("[]}\x1e"))
	if len(arguments) == 0 {
		b.WriteString("[]")
	} else if err := json.Compact(b, arguments); err != nil {
		return nil, err
	}
	b.WriteString("}\x1e")
	return b.Bytes(), nil
}

// invocationHead starts an Invocation message of the JSON hub protocol up
// to its arguments, {"type":1,"invocationId":I,"target":T,"arguments":,
// without invocationId when id is nil, in a buffer with room for n bytes
// more. Strings are escaped as json.Marshal does, < > and & included, as
// ASP.NET Core's System.Text.Json writer escapes them too.
func invocationHead(id *string, target string, n int) *bytes.Buffer {
	t, _ := json.Marshal(target) // a string always marshals
	var i []byte
	if id != nil {
		i, _ = json.Marshal(*id)
	}
	b := new(bytes.Buffer)
	b.Grow(len(`{"type":1,"invocationId":,"target":,"arguments":`) + len(i) + len(t) + n)
	b.WriteString(`{"type":1,`)
	if id != nil {
		b.WriteString(`"invocationId":`)
		b.Write(i)
		b.WriteByte(',')
	}
	b.WriteString(`"target":`)
	b.Write(t)
	b.WriteString(`,"arguments":`)
	return b
}

// closeFrame is a Close message; an empty reason leaves out "error".
func closeFrame(reason string, allowReconnect bool) []byte {
	return jsonRecord(struct {
		Type           int    `json:"type"`
		Error          string `json:"error,omitempty"`
		AllowReconnect bool   `json:"allowReconnect,omitempty"`
	}{msgClose, reason, allowReconnect})
}

// completionMessage is a Completion message without a result for c's hub
// protocol; an empty errMsg leaves out the error.
func (c *conn) completionMessage(invocationID, errMsg string) []byte {
	if c.binary.Load() {
		if errMsg == "" {
			return msgpackhub.AppendFrame(nil, msgpackhub.AppendCompletionVoid(nil, invocationID))
		}
		return msgpackhub.AppendFrame(nil, msgpackhub.AppendCompletionError(nil, invocationID, errMsg))
	}
	return jsonRecord(struct {
		Type         int    `json:"type"`
		InvocationID string `json:"invocationId"`
		Error        string `json:"error,omitempty"`
	}{msgCompletion, invocationID, errMsg})
}
