package msgpackhub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxDepth bounds the nesting of arrays and maps in a converted value, as
// encoding/json bounds its own.
const maxDepth = 10000

// timestampExt is the MessagePack timestamp extension type.
const timestampExt = -1

// AppendJSONAsMsgpack appends the MessagePack encoding of the JSON value in
// data to dst. data must hold exactly one JSON value.
func AppendJSONAsMsgpack(dst, data []byte) ([]byte, error) {
	toks, err := jsonTokens(data)
	if err != nil {
		return dst, err
	}
	buf := bytes.NewBuffer(dst)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	if err := encodeTokens(enc, toks); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// jsonToken is one token of a JSON value, with the number of elements when
// it opens an array or an object (members of an object, not keys and values).
type jsonToken struct {
	tok json.Token
	n   int
}

// jsonTokens reads the one JSON value in data as tokens, counting the
// elements of every array and object: MessagePack writes the count first.
func jsonTokens(data []byte) ([]jsonToken, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var toks []jsonToken
	var open []int // indexes of the arrays and objects not closed yet
	for {
		t, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if d, ok := t.(json.Delim); ok && (d == ']' || d == '}') {
			if toks[open[len(open)-1]].tok == json.Delim('{') {
				toks[open[len(open)-1]].n /= 2
			}
			open = open[:len(open)-1]
			toks = append(toks, jsonToken{tok: t})
			continue
		}
		if len(open) > 0 {
			toks[open[len(open)-1]].n++
		} else if len(toks) > 0 {
			return nil, errors.New("invalid JSON: more than one value")
		}
		if d, ok := t.(json.Delim); ok && (d == '[' || d == '{') {
			open = append(open, len(toks))
		}
		toks = append(toks, jsonToken{tok: t})
	}
	if len(toks) == 0 || len(open) > 0 {
		return nil, errors.New("invalid JSON: unexpected end of input")
	}
	return toks, nil
}

// encodeTokens writes the value that toks spell.
func encodeTokens(enc *msgpack.Encoder, toks []jsonToken) error {
	for _, t := range toks {
		var err error
		switch v := t.tok.(type) {
		case json.Delim:
			switch v {
			case '[':
				err = enc.EncodeArrayLen(t.n)
			case '{':
				err = enc.EncodeMapLen(t.n)
			}
		case bool:
			err = enc.EncodeBool(v)
		case nil:
			err = enc.EncodeNil()
		case string:
			err = enc.EncodeString(v)
		case json.Number:
			err = encodeNumber(enc, string(v))
		default:
			err = fmt.Errorf("unexpected JSON token %T", v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// encodeNumber writes a JSON number: an integer when it is written without
// a fraction or exponent and fits int64 or uint64, else a float64.
func encodeNumber(enc *msgpack.Encoder, s string) error {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return enc.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return enc.EncodeUint(u)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("invalid JSON number %q", s)
	}
	// Out of range, f is ±Inf (or 0 below the smallest float), what
	// JavaScript's JSON.parse gives too.
	return enc.EncodeFloat64(f)
}

// AppendMsgpackAsJSON appends the JSON form of the MessagePack value in data
// to dst. data must hold exactly one value.
func AppendMsgpackAsJSON(dst, data []byte) ([]byte, error) {
	r := bytes.NewReader(data)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	c := converter{dec: dec, r: r, size: len(data)}
	out, err := c.value(dst, 0)
	if err != nil {
		return dst, err
	}
	if r.Len() > 0 {
		return dst, fmt.Errorf("%d bytes after the MessagePack value", r.Len())
	}
	return out, nil
}

// converter writes MessagePack values as JSON.
type converter struct {
	dec  *msgpack.Decoder
	r    *bytes.Reader // what dec reads, directly (bytes.Reader is an io.ByteScanner)
	size int
}

// offset is where the next value starts in the data.
func (c *converter) offset() int { return c.size - c.r.Len() }

// value appends the JSON form of the next value.
func (c *converter) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("values are nested more than %d deep", maxDepth)
	}
	code, err := c.dec.PeekCode()
	if err != nil {
		return dst, truncated(err)
	}
	switch {
	case code == msgpcode.Nil:
		_ = c.dec.DecodeNil()
		return append(dst, "null"...), nil
	case code == msgpcode.False || code == msgpcode.True:
		b, _ := c.dec.DecodeBool()
		return strconv.AppendBool(dst, b), nil
	case code == msgpcode.Uint64:
		u, err := c.dec.DecodeUint64()
		if err != nil {
			return dst, truncated(err)
		}
		return strconv.AppendUint(dst, u, 10), nil
	case msgpcode.IsFixedNum(code) || code >= msgpcode.Uint8 && code <= msgpcode.Int64:
		i, err := c.dec.DecodeInt64()
		if err != nil {
			return dst, truncated(err)
		}
		return strconv.AppendInt(dst, i, 10), nil
	case code == msgpcode.Float:
		f, err := c.dec.DecodeFloat32()
		if err != nil {
			return dst, truncated(err)
		}
		return appendFloat(dst, float64(f), 32)
	case code == msgpcode.Double:
		f, err := c.dec.DecodeFloat64()
		if err != nil {
			return dst, truncated(err)
		}
		return appendFloat(dst, f, 64)
	case msgpcode.IsString(code):
		s, err := c.dec.DecodeString()
		if err != nil {
			return dst, truncated(err)
		}
		return appendString(dst, s), nil
	case msgpcode.IsBin(code):
		b, err := c.dec.DecodeBytes()
		if err != nil {
			return dst, truncated(err)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), nil
	case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
		n, err := c.dec.DecodeArrayLen()
		if err != nil {
			return dst, truncated(err)
		}
		dst = append(dst, '[')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.value(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32:
		n, err := c.dec.DecodeMapLen()
		if err != nil {
			return dst, truncated(err)
		}
		dst = append(dst, '{')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.key(dst, depth+1); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = c.value(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case msgpcode.IsExt(code):
		return c.ext(dst)
	}
	return dst, fmt.Errorf("invalid MessagePack type byte 0x%02x", code)
}

// key appends the next value, a map key, as a JSON object key.
func (c *converter) key(dst []byte, depth int) ([]byte, error) {
	code, err := c.dec.PeekCode()
	if err != nil {
		return dst, truncated(err)
	}
	if msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32 ||
		msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32 {
		return dst, errors.New("a map key is an array or a map, which JSON cannot write as an object key")
	}
	start := len(dst)
	dst, err = c.value(dst, depth)
	if err != nil || dst[start] == '"' {
		return dst, err
	}
	// A number, true, false or null: its text, quoted.
	text := string(dst[start:])
	return appendString(dst[:start], text), nil
}

// ext appends an extension value: a timestamp as an RFC 3339 string.
func (c *converter) ext(dst []byte) ([]byte, error) {
	start := c.offset()
	id, n, err := c.dec.DecodeExtHeader()
	if err != nil {
		return dst, truncated(err)
	}
	if id != timestampExt {
		return dst, fmt.Errorf("MessagePack extension type %d has no JSON form", id)
	}
	if n != 4 && n != 8 && n != 12 {
		return dst, fmt.Errorf("a MessagePack timestamp has %d bytes; want 4, 8 or 12", n)
	}
	// Back to the start of the value: DecodeTime reads the header itself.
	if _, err := c.r.Seek(int64(start), io.SeekStart); err != nil {
		return dst, err
	}
	t, err := c.dec.DecodeTime()
	if err != nil {
		return dst, truncated(err)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

// appendFloat appends f as a JSON number in its shortest form for bits.
func appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("the number %v has no JSON form", f)
	}
	var b []byte
	var err error
	if bits == 32 {
		b, err = json.Marshal(float32(f))
	} else {
		b, err = json.Marshal(f)
	}
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// truncated words a decoder error; running out of data is the usual one.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the MessagePack value ends early")
	}
	return fmt.Errorf("invalid MessagePack: %w", err)
}
