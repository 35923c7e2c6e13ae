// Package msgpacktest encodes and decodes MessagePack for tests. Encode and
// Message build the bytes a client would send; Decode reads what went on the
// wire keeping its wire types (int8 … uint64, float32, float64), with maps as
// ordered key/value pairs, so that both types and key order can be compared.
package msgpacktest

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Decode decodes the one MessagePack value in b, failing tb if it cannot.
// A map decodes as [][2]any in wire order.
func Decode(tb testing.TB, b []byte) any {
	tb.Helper()
	d := msgpack.NewDecoder(bytes.NewReader(b))
	d.SetMapDecoder(func(d *msgpack.Decoder) (any, error) {
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		kv := make([][2]any, n)
		for i := range kv {
			if kv[i][0], err = d.DecodeInterface(); err != nil {
				return nil, err
			}
			if kv[i][1], err = d.DecodeInterface(); err != nil {
				return nil, err
			}
		}
		return kv, nil
	})
	v, err := d.DecodeInterface()
	if err != nil {
		tb.Fatalf("decode % x: %v", b, err)
	}
	return v
}

// Encode encodes v with msgpack.Marshal, failing tb if it cannot.
func Encode(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		tb.Fatalf("encode %#v: %v", v, err)
	}
	return b
}

// Message encodes a MessagePack hub message from its elements, in the order
// the protocol lays them out (for an invocation: type, headers, invocation
// id, target, arguments and, optionally, stream ids), failing tb if it cannot.
func Message(tb testing.TB, elems ...any) []byte {
	tb.Helper()
	return Encode(tb, elems)
}
