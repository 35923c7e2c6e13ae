package msgpackhub

import (
	"bytes"
	"errors"
	"testing"
)

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		name   string
		length int
		prefix []byte
	}{
		{"empty", 0, []byte{0x00}},
		{"one byte prefix", 127, []byte{0x7f}},
		{"two byte prefix", 128, []byte{0x80, 0x01}},
		{"spec example 0x2A3", 0x2a3, []byte{0xa3, 0x05}},
		{"three byte prefix", 16384, []byte{0x80, 0x80, 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := bytes.Repeat([]byte{'x'}, tt.length)
			got := AppendFrame([]byte("head"), msg)
			want := append(append([]byte("head"), tt.prefix...), msg...)
			if !bytes.Equal(got, want) {
				t.Errorf("got prefix % x, want % x", got[4:len(got)-tt.length], tt.prefix)
			}
		})
	}
}

func TestFrameReader(t *testing.T) {
	frames := AppendFrame(AppendFrame(AppendFrame(nil, []byte{0x91, 0x06}), nil), bytes.Repeat([]byte{1}, 200))
	tests := []struct {
		name    string
		max     int
		chunks  [][]byte
		want    [][]byte
		wantErr error
		wantBuf int
	}{
		{
			name:   "whole frames in one chunk",
			max:    1000,
			chunks: [][]byte{frames},
			want:   [][]byte{{0x91, 0x06}, {}, bytes.Repeat([]byte{1}, 200)},
		},
		{
			name:    "prefix split across chunks",
			max:     1000,
			chunks:  [][]byte{frames[:5], frames[5:6]},
			want:    [][]byte{{0x91, 0x06}, {}},
			wantBuf: 2, // the whole two-byte prefix of the third frame
		},
		{
			name:    "partial message kept",
			max:     1000,
			chunks:  [][]byte{{0x03, 0x93}, {0x01}},
			wantBuf: 3,
		},
		{
			name:    "oversized refused at its prefix",
			max:     100,
			chunks:  [][]byte{{0xc8, 0x01}},
			wantErr: ErrFrameTooLarge,
		},
		{
			name:    "oversized after good frames",
			max:     100,
			chunks:  [][]byte{frames},
			want:    [][]byte{{0x91, 0x06}, {}},
			wantErr: ErrFrameTooLarge,
		},
		{
			name:    "prefix of six bytes",
			max:     1 << 30,
			chunks:  [][]byte{{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
			wantErr: ErrBadPrefix,
		},
		{
			name:    "five byte prefix over 2^31-1",
			max:     1 << 30,
			chunks:  [][]byte{{0xff, 0xff, 0xff, 0xff, 0x0f}},
			wantErr: ErrBadPrefix,
		},
		{
			name:    "unfinished prefix waits",
			max:     1 << 30,
			chunks:  [][]byte{{0x80, 0x80}, {0x80, 0x80}},
			wantBuf: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := FrameReader{Max: tt.max}
			var got [][]byte
			var err error
			for _, c := range tt.chunks {
				var msgs [][]byte
				msgs, err = r.Feed(c)
				got = append(got, msgs...)
				if err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("message %d: got % x, want % x", i, got[i], tt.want[i])
				}
			}
			if r.Buffered() != tt.wantBuf {
				t.Errorf("got %d bytes buffered, want %d", r.Buffered(), tt.wantBuf)
			}
		})
	}
}

func TestSplitFrames(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		want    int
		wantErr bool
	}{
		{"two frames", AppendFrame(AppendFrame(nil, []byte{0x91, 0x06}), []byte{0x91, 0x06}), 2, false},
		{"ends inside a message", []byte{0x03, 0x93}, 0, true},
		{"ends inside a prefix", []byte{0x80}, 0, true},
		{"over the limit", AppendFrame(nil, make([]byte, 11)), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitFrames(tt.data, 10)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if len(got) != tt.want {
				t.Errorf("got %d messages, want %d", len(got), tt.want)
			}
		})
	}
}

// FuzzFrameReader feeds data cut at arbitrary points and checks that the
// reader finds the frames SplitFrames finds in the whole, never holds more
// than one frame's worth, and fails the same way.
func FuzzFrameReader(f *testing.F) {
	f.Add(AppendFrame(AppendFrame(nil, []byte{0x91, 0x06}), []byte("abc")), uint8(1), uint16(64))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, uint8(2), uint16(64))
	f.Add([]byte{0xc8, 0x01, 0x00}, uint8(1), uint16(100))
	f.Add(append(AppendFrame(nil, []byte("abcdef")), 0x05, 'x'), uint8(3), uint16(10))
	f.Fuzz(func(t *testing.T, data []byte, step uint8, limit uint16) {
		max := int(limit)
		if max == 0 {
			max = 1
		}
		chunk := int(step%16) + 1
		r := FrameReader{Max: max}
		var got [][]byte
		var err error
		for i := 0; i < len(data) && err == nil; i += chunk {
			var msgs [][]byte
			msgs, err = r.Feed(data[i:min(i+chunk, len(data))])
			got = append(got, msgs...)
			if r.Buffered() > max+maxPrefixLen {
				t.Fatalf("got %d bytes buffered, want at most %d", r.Buffered(), max+maxPrefixLen)
			}
		}
		whole, wholeErr := SplitFrames(data, max)
		if err != nil {
			if wholeErr == nil {
				t.Fatalf("reader failed with %v, SplitFrames did not", err)
			}
			return
		}
		if r.Buffered() > 0 {
			if wholeErr == nil {
				t.Fatalf("reader holds %d bytes, SplitFrames found whole frames", r.Buffered())
			}
			return
		}
		if wholeErr != nil {
			t.Fatalf("SplitFrames failed with %v, the reader did not", wholeErr)
		}
		if len(got) != len(whole) {
			t.Fatalf("got %d messages, want %d", len(got), len(whole))
		}
		for i := range got {
			if !bytes.Equal(got[i], whole[i]) {
				t.Fatalf("message %d: got % x, want % x", i, got[i], whole[i])
			}
		}
	})
}
