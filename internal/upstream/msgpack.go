package upstream

import (
	"encoding/json"
	"fmt"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/clip"
	"github.com/funcsignalr/funcsignalr/internal/msgpackhub"
)

// parseMsgpack decodes a MessagePack body: the invocation array
// [1, headers, invocationId|nil, target, arguments] without its length
// prefix, the arguments converted to JSON as package msgpackhub documents
// (binary as base64, timestamps as RFC 3339 strings). Connection events are
// always JSON; a MessagePack body of another type is reported by setMessage.
func parseMsgpack(body []byte) (message, error) {
	if len(body) == 0 {
		return message{}, apierror.New(apierror.InvalidMessage, "the body is empty; want a MessagePack invocation")
	}
	t, err := msgpackhub.MessageType(body)
	if err != nil {
		return message{}, apierror.New(apierror.InvalidMessage, "the body is not a MessagePack hub message: %s", clip.String(err.Error()))
	}
	if t != TypeInvocation {
		return message{Type: t}, nil
	}
	inv, err := msgpackhub.ParseInvocation(body)
	if err != nil {
		return message{}, apierror.New(apierror.InvalidMessage, "the MessagePack invocation is invalid: %s", clip.String(err.Error()))
	}
	return message{Type: TypeInvocation, InvocationID: inv.InvocationID, Target: inv.Target, Arguments: inv.Arguments}, nil
}

// msgpackCompletion is a CompletionMessage of the MessagePack hub protocol,
// with its length prefix: [3, {}, invocationId, 1, error] or
// [3, {}, invocationId, 3, result], the result converted from JSON.
func msgpackCompletion(invocationID string, result json.RawMessage, errMsg string) ([]byte, error) {
	var msg []byte
	if errMsg != "" {
		msg = msgpackhub.AppendCompletionError(nil, invocationID, errMsg)
	} else {
		var err error
		if msg, err = msgpackhub.AppendCompletionResult(nil, invocationID, result); err != nil {
			return nil, fmt.Errorf("completion: encode result: %w", err)
		}
	}
	return msgpackhub.AppendFrame(make([]byte, 0, len(msg)+5), msg), nil
}
