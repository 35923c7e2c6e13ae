package signalrtest

import (
	"bytes"
	"errors"
)

// recordSeparator ends every message of the SignalR JSON hub protocol.
const recordSeparator = 0x1e

// maxRecordBytes bounds one message: the service's 1 MiB message limit plus
// room for the JSON around a maximal argument.
const maxRecordBytes = 2 << 20

// errRecordTooLarge is returned when a message grows past maxRecordBytes
// without a record separator.
var errRecordTooLarge = errors.New("signalrtest: hub-protocol message larger than 2 MiB")

// records splits WebSocket messages into hub-protocol records. One WebSocket
// message may carry several records or part of one (HubProtocol.md), so the
// unterminated tail is kept for the next feed.
type records struct {
	partial []byte
}

// feed returns the complete records in what was kept plus p, without their
// separators. The returned slices stay valid after later calls.
func (r *records) feed(p []byte) ([][]byte, error) {
	data := p
	if len(r.partial) > 0 {
		data = append(r.partial, p...)
		r.partial = nil
	}
	var out [][]byte
	for {
		i := bytes.IndexByte(data, recordSeparator)
		if i < 0 {
			break
		}
		out = append(out, data[:i:i])
		data = data[i+1:]
	}
	if len(data) > maxRecordBytes {
		return out, errRecordTooLarge
	}
	if len(data) > 0 {
		r.partial = bytes.Clone(data)
	}
	return out, nil
}
