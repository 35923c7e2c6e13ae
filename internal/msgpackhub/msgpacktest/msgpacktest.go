// Package msgpacktest decodes MessagePack for tests that check what went on
// the wire: values keep their wire types (int8 … uint64, float32, float64),
// and maps become ordered key/value pairs, so that both types and key order
// can be compared.
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
