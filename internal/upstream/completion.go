package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// typeCompletion is the hub protocol's CompletionMessage type.
const typeCompletion = 3

// recordSeparator ends every message of the JSON hub protocol.
const recordSeparator = 0x1e

// jsonCompletion is a CompletionMessage of the JSON hub protocol.
type jsonCompletion struct {
	Type         int             `json:"type"`
	InvocationID string          `json:"invocationId"`
	Result       json.RawMessage `json:"result,omitempty"`
	Error        string          `json:"error,omitempty"`
}

// Completion returns the body that answers an invocation with an id: a
// CompletionMessage framed for the request's hub protocol, which the
// service hands to the client as it is. With errMsg not empty it carries
// that error and no result; the JavaScript client then rejects with
// new Error(errMsg). An empty errMsg means success (the client treats an
// empty error as none), so a caller with an error whose text is empty
// must supply one. Otherwise it carries result, a JSON value; nil or empty
// is written "result":null, so the client resolves with null (as with a
// function that returns nil), not undefined.
//
// The JSON protocol's completion is {"type":3,"invocationId":"…","result":…}
// or {"type":3,"invocationId":"…","error":"…"} followed by the 0x1E record
// separator. The MessagePack protocol's is [3, {}, "…", 3, result] (the
// result converted from JSON as package msgpackhub documents: integers stay
// integers, other numbers become float64) or [3, {}, "…", 1, "error"],
// preceded by its varint length. Completion returns an error for an unknown
// protocol, an empty invocationID or a result that is not valid JSON.
func Completion(protocol, invocationID string, result json.RawMessage, errMsg string) ([]byte, error) {
	if invocationID == "" {
		return nil, errors.New("completion: no invocation id")
	}
	switch protocol {
	case ProtocolJSON:
		msg := jsonCompletion{Type: typeCompletion, InvocationID: invocationID, Error: errMsg}
		if errMsg == "" {
			msg.Result = result
			if len(bytes.TrimSpace(result)) == 0 {
				msg.Result = json.RawMessage("null")
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(msg); err != nil {
			return nil, fmt.Errorf("completion: encode result: %w", err)
		}
		// Encode ends the value with a newline; the frame ends with 0x1E.
		out := buf.Bytes()
		out[len(out)-1] = recordSeparator
		return out, nil
	case ProtocolMessagePack:
		if errMsg == "" && len(bytes.TrimSpace(result)) == 0 {
			result = json.RawMessage("null")
		}
		return msgpackCompletion(invocationID, result, errMsg)
	default:
		return nil, fmt.Errorf("completion: hub protocol %q is not supported", protocol)
	}
}
