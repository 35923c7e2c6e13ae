package bindings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/funcsignalr/funcsignalr/apierror"
	"github.com/funcsignalr/funcsignalr/internal/clip"
	"github.com/funcsignalr/funcsignalr/internal/jsonkind"
)

// MaxGroupNameLength is the longest group name the service accepts, in
// UTF-16 code units (the service counts as .NET does).
const MaxGroupNameLength = 1024

// wireItem is one object of a send body. Every field is kept raw so that a
// wrong type is reported by name and arguments pass through byte for byte.
// encoding/json matches the names in any letter case, as Newtonsoft does
// for the official binding.
type wireItem struct {
	Target       json.RawMessage `json:"target"`
	Arguments    json.RawMessage `json:"arguments"`
	UserID       json.RawMessage `json:"userId"`
	GroupName    json.RawMessage `json:"groupName"`
	ConnectionID json.RawMessage `json:"connectionId"`
	Action       json.RawMessage `json:"action"`
}

// DecodeSend parses and validates a whole send body (one object or an array).
// It returns *apierror.Error with apierror.InvalidJSON or apierror.InvalidMessage.
//
// An object with an "action" is a GroupAction, any other object a Message.
// Field names match in any letter case and unknown fields are ignored, as in
// the official binding; null means absent. Arguments are kept byte for byte.
// Every problem is reported with the field and, for an array, the item index.
func DecodeSend(body []byte) ([]Operation, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, apierror.New(apierror.InvalidJSON, "body is empty; want a JSON object or an array of objects")
	}
	if err := checkJSON(body); err != nil {
		return nil, apierror.Wrap(apierror.InvalidJSON, err, "body is not valid JSON: %v", err)
	}
	switch trimmed[0] {
	case '{':
		op, err := decodeItem(body, -1)
		if err != nil {
			return nil, err
		}
		return []Operation{op}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, apierror.Wrap(apierror.InvalidJSON, err, "body is not valid JSON: %v", err)
		}
		if len(items) > maxBatch {
			return nil, apierror.New(apierror.InvalidMessage, "the batch holds %d objects; at most %d are allowed in one send", len(items), maxBatch)
		}
		// Shape first: an array holding a non-object is InvalidJson
		// wherever it sits, before any item is judged as a message.
		for i, raw := range items {
			if k := jsonkind.Of(raw); k != "object" {
				return nil, apierror.New(apierror.InvalidJSON, "item %d is %s; want an object", i, jsonkind.Article(k))
			}
		}
		ops := make([]Operation, len(items))
		for i, raw := range items {
			op, err := decodeItem(raw, i)
			if err != nil {
				return nil, err
			}
			ops[i] = op
		}
		return ops, nil
	default:
		return nil, apierror.New(apierror.InvalidJSON, "body is %s; want a JSON object or an array of objects", jsonkind.Article(jsonkind.Of(trimmed)))
	}
}

// checkJSON reports whether body is exactly one JSON value, with the
// decoder's reason when it is not.
func checkJSON(body []byte) error {
	if json.Valid(body) {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return errors.New("unexpected data after the top-level value")
}

// itemError builds the InvalidMessage error for item index (-1: the body is
// a single object).
func itemError(index int, format string, args ...any) *apierror.Error {
	msg := fmt.Sprintf(format, args...)
	if index >= 0 {
		msg = fmt.Sprintf("item %d: %s", index, msg)
	}
	return &apierror.Error{Code: apierror.InvalidMessage, Message: msg}
}

func decodeItem(raw []byte, index int) (Operation, error) {
	var w wireItem
	if err := json.Unmarshal(raw, &w); err != nil {
		// Unreachable for a valid object: every field is a RawMessage.
		return Operation{}, apierror.Wrap(apierror.InvalidJSON, err, "item %d is not a valid object: %v", index, err)
	}
	var fields [4]string // action, userId, groupName, connectionId
	names := [4]string{"action", "userId", "groupName", "connectionId"}
	present := [4]bool{}
	for i, r := range [4]json.RawMessage{w.Action, w.UserID, w.GroupName, w.ConnectionID} {
		s, ok, problem := stringField(r, names[i])
		if problem != "" {
			return Operation{}, itemError(index, "%s", problem)
		}
		fields[i], present[i] = s, ok
	}
	// Present but empty is an unresolved binding expression, never "absent":
	// the official binding would broadcast a message whose userId is "".
	for i := 1; i < 4; i++ {
		if present[i] && fields[i] == "" {
			return Operation{}, itemError(index, "%s is empty; leave it out or give a value", names[i])
		}
	}
	if present[0] {
		action := canonicalAction(fields[0])
		switch {
		case fields[0] == "":
			return Operation{}, itemError(index, "action is empty; want add, remove or removeAll")
		case action == "":
			return Operation{}, itemError(index, "unknown action %q; want add, remove or removeAll", clip.String(fields[0]))
		}
		g := &GroupAction{Action: action, UserID: fields[1], GroupName: fields[2], ConnectionID: fields[3]}
		if problem := checkGroupAction(g); problem != "" {
			return Operation{}, itemError(index, "%s", problem)
		}
		return Operation{GroupAction: g}, nil
	}

	target, ok, problem := stringField(w.Target, "target")
	switch {
	case problem != "":
		return Operation{}, itemError(index, "%s", problem)
	case !ok:
		return Operation{}, itemError(index, "target is required (or action, for a group action)")
	}
	args := []json.RawMessage{}
	switch jsonkind.Of(w.Arguments) {
	case "empty", "null":
	case "array":
		if err := json.Unmarshal(w.Arguments, &args); err != nil {
			return Operation{}, apierror.Wrap(apierror.InvalidJSON, err, "item %d: arguments is not a valid array: %v", index, err)
		}
	default:
		return Operation{}, itemError(index, "arguments must be an array, not %s", jsonkind.Article(jsonkind.Of(w.Arguments)))
	}
	m := &Message{Target: target, Arguments: args, UserID: fields[1], GroupName: fields[2], ConnectionID: fields[3]}
	if problem := checkMessage(m, false); problem != "" {
		return Operation{}, itemError(index, "%s", problem)
	}
	return Operation{Message: m}, nil
}

// stringField reads a string field: absent or null → ok false. A number is
// taken as its literal text (Newtonsoft turns 123 into "123" for the official
// binding, and ids are often numeric); any other type is a problem.
func stringField(raw json.RawMessage, name string) (value string, ok bool, problem string) {
	switch jsonkind.Of(raw) {
	case "empty", "null":
		return "", false, ""
	case "string":
		if err := json.Unmarshal(raw, &value); err != nil {
			return "", false, fmt.Sprintf("%s is not a valid string", name)
		}
		return value, true, ""
	case "number":
		return string(bytes.TrimSpace(raw)), true, ""
	default:
		return "", false, fmt.Sprintf("%s must be a string, not %s", name, jsonkind.Article(jsonkind.Of(raw)))
	}
}

// canonicalAction returns the canonical spelling of a group action, matched
// in any letter case (Newtonsoft parses the official binding's enum so), or
// "" when it is none.
func canonicalAction(a string) string {
	switch {
	case strings.EqualFold(a, ActionAdd):
		return ActionAdd
	case strings.EqualFold(a, ActionRemove):
		return ActionRemove
	case strings.EqualFold(a, ActionRemoveAll):
		return ActionRemoveAll
	}
	return ""
}

// checkOperation validates an operation built by any caller, not only by
// DecodeSend; it returns the problem or "".
func checkOperation(op *Operation) string {
	switch {
	case op.Message != nil && op.GroupAction != nil:
		return "both message and group action are set; want exactly one"
	case op.Message != nil:
		return checkMessage(op.Message, true)
	case op.GroupAction != nil:
		return checkGroupAction(op.GroupAction)
	default:
		return "neither message nor group action is set; want exactly one"
	}
}

// checkMessage validates a message; with checkArgs it also checks that each
// argument is valid JSON (DecodeSend's arguments are by construction).
func checkMessage(m *Message, checkArgs bool) string {
	if m.Target == "" {
		return "target is empty"
	}
	if p := checkIDs(m.UserID, m.GroupName, m.ConnectionID); p != "" {
		return p
	}
	if checkArgs {
		for i, a := range m.Arguments {
			if len(a) > 0 && !json.Valid(a) {
				return fmt.Sprintf("arguments[%d] is not valid JSON", i)
			}
		}
	}
	return ""
}

func checkGroupAction(g *GroupAction) string {
	action := canonicalAction(g.Action)
	switch action {
	case "":
		return fmt.Sprintf("unknown action %q; want add, remove or removeAll", clip.String(g.Action))
	case ActionAdd, ActionRemove:
		if g.GroupName == "" {
			return fmt.Sprintf("groupName is required for action %s", action)
		}
	}
	if g.UserID == "" && g.ConnectionID == "" {
		return fmt.Sprintf("userId or connectionId is required for action %s", action)
	}
	return checkIDs(g.UserID, g.GroupName, g.ConnectionID)
}

// checkIDs rejects ids that the service would reject or that would change
// the meaning of the REST path; "" means absent and passes.
func checkIDs(userID, groupName, connectionID string) string {
	for _, f := range [3]struct{ name, value string }{
		{"userId", userID}, {"groupName", groupName}, {"connectionId", connectionID},
	} {
		if p := checkID(f.name, f.value); p != "" {
			return p
		}
	}
	return ""
}

func checkID(name, v string) string {
	if v == "" {
		return ""
	}
	// "." and ".." survive path escaping and are removed as dot segments by
	// servers: /users/../:send would become a broadcast.
	if v == "." || v == ".." {
		return fmt.Sprintf("%s must not be %q", name, v)
	}
	n := 0
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Sprintf("%s contains a control character (U+%04X)", name, r)
		}
		n += utf16.RuneLen(r)
	}
	if name == "groupName" && n > MaxGroupNameLength {
		return fmt.Sprintf("groupName is %d characters long; the service allows at most %d", n, MaxGroupNameLength)
	}
	return ""
}
