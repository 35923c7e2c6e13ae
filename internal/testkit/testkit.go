// Package testkit holds the fakes and helpers that the tests of several
// packages (and the benchmark harness, bench/cmd/benchtab) share, as
// net/http/httptest does for servers: a synchronised buffer, a Microsoft
// Entra authority over TLS on loopback, and a child process whose output can
// be waited on. It uses only the standard library, so any package's tests
// may import it.
package testkit

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for one goroutine (a logger, a child
// process) writing while another reads.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len returns how many bytes were written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
