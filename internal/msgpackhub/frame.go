package msgpackhub

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Every MessagePack hub message is preceded by its length as a varint: 7
// bits per byte, least significant group first, the high bit set on all but
// the last byte, at most 5 bytes (HubProtocol.md, "Binary encoding").
const maxPrefixLen = 5

// maxFrameLen is the largest length a 5-byte prefix may carry: 2^31 - 1.
const maxFrameLen = 1<<31 - 1

var (
	// ErrFrameTooLarge is returned when a frame's length is over the limit.
	ErrFrameTooLarge = errors.New("message is larger than the limit")
	// ErrBadPrefix is returned when a length prefix is longer than 5 bytes
	// or its value over 2^31 - 1.
	ErrBadPrefix = errors.New("message length prefix is invalid")
)

// AppendFrame appends msg to dst, preceded by its length prefix.
func AppendFrame(dst, msg []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(msg)))
	return append(dst, msg...)
}

// parsePrefix reads a length prefix at the start of b. n is 0 when b holds
// only part of it.
func parsePrefix(b []byte) (length uint64, n int, err error) {
	length, n = binary.Uvarint(b[:min(len(b), maxPrefixLen)])
	switch {
	case n < 0 || n == 0 && len(b) >= maxPrefixLen:
		return 0, 0, ErrBadPrefix
	case n == 0:
		return 0, 0, nil
	case length > maxFrameLen:
		return 0, 0, ErrBadPrefix
	}
	return length, n, nil
}

// SplitFrames splits b, which must be whole frames, into their messages;
// each is at most max bytes long.
func SplitFrames(b []byte, max int) ([][]byte, error) {
	var msgs [][]byte
	for len(b) > 0 {
		length, n, err := parsePrefix(b)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errors.New("the data ends inside a length prefix")
		}
		if length > uint64(max) {
			return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrFrameTooLarge, length, max)
		}
		if uint64(len(b)-n) < length {
			return nil, fmt.Errorf("the data ends inside a message: %d of %d bytes", len(b)-n, length)
		}
		end := n + int(length)
		msgs = append(msgs, b[n:end:end])
		b = b[end:]
	}
	return msgs, nil
}

// FrameReader splits a stream of transport data into messages, keeping a
// partial frame until the rest of it arrives. A frame whose prefix announces
// more than Max bytes is refused as soon as its prefix is read, so a partial
// frame never holds more than Max bytes and its prefix.
type FrameReader struct {
	// Max is the largest message accepted; it must be positive.
	Max int

	buf []byte // the start of a frame not complete yet
}

// Feed appends p to what was read before and returns the complete messages,
// without their prefixes. The returned slices are not modified by later
// calls. After an error the reader holds nothing and the stream cannot be
// trusted any more.
func (r *FrameReader) Feed(p []byte) ([][]byte, error) {
	data := p
	if len(r.buf) > 0 {
		data = append(r.buf, p...)
	}
	var msgs [][]byte
	for len(data) > 0 {
		length, n, err := parsePrefix(data)
		if err != nil {
			r.buf = nil
			return msgs, err
		}
		if n == 0 {
			break
		}
		if length > uint64(r.Max) {
			r.buf = nil
			return msgs, fmt.Errorf("%w (%d bytes, limit %d)", ErrFrameTooLarge, length, r.Max)
		}
		if uint64(len(data)-n) < length {
			break
		}
		end := n + int(length)
		msgs = append(msgs, data[n:end:end])
		data = data[end:]
	}
	// The messages alias p or the old buffer; what is left moves to a fresh
	// array so that later appends never write over them.
	r.buf = append([]byte(nil), data...)
	if len(r.buf) == 0 {
		r.buf = nil
	}
	return msgs, nil
}

// Buffered returns how many bytes of a partial frame the reader holds.
func (r *FrameReader) Buffered() int { return len(r.buf) }
