package localservice

import (
	"math"
	"sync"
)

// minQueue is the capacity a queue's ring is first allocated with, and the
// most it keeps once drained.
const minQueue = 8

// queue is a connection's outbound FIFO of frames, bounded at max frames
// and at maxBytes bytes of frame data.
// A channel of capacity max would allocate max frames up front (32 KiB for
// the default SendBuffer) on every connection; the queue's ring is allocated
// with minQueue frames on the first push, doubles as needed up to max, and
// once drained a larger ring is let go, so that an idle connection holds
// minQueue frames at most.
//
// Any number of goroutines may push: push never blocks and fails when the
// frame would pass either bound. One goroutine at a time consumes. ready
// carries a token whenever frames are queued and the consumer has not taken
// it, and none otherwise: the consumer waits for frames in a select on
// ready, and after a receive from it, pop returns the oldest frame.
type queue struct {
	ready chan struct{} // capacity 1

	mu   sync.Mutex
	ring []frame // len(ring) is the capacity: 0, then minQueue doubling up to max
	head int     // index of the oldest frame
	n    int     // frames queued
	size int     // bytes of frame data queued
	max  int
	// maxBytes bounds size, except that an empty queue takes any one frame:
	// what a slow client can hold is maxBytes or one frame, whichever is
	// larger.
	maxBytes int
}

// newQueue returns an empty queue of at most limit frames and limitBytes
// bytes.
func newQueue(limit, limitBytes int) queue {
	return queue{ready: make(chan struct{}, 1), max: limit, maxBytes: limitBytes}
}

// push appends f without blocking, unless max frames are queued already or
// f would take the queue over maxBytes.
func (q *queue) push(f frame) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == q.max || q.n > 0 && q.size+len(f.data) > q.maxBytes {
		return false
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = f
	q.n++
	q.size += len(f.data)
	q.signal()
	return true
}

// grow replaces the full ring by one twice as large (up to max), with the
// oldest frame first.
func (q *queue) grow() {
	r := make([]frame, min(max(2*len(q.ring), minQueue), q.max))
	n := copy(r, q.ring[q.head:])
	copy(r[n:], q.ring[:q.head])
	q.ring, q.head = r, 0
}

// pop removes and returns the oldest frame; false when the queue is empty.
func (q *queue) pop() (frame, bool) { return q.popUpTo(math.MaxInt) }

// popUpTo removes and returns the oldest frame if it holds at most limit
// bytes; false when the queue is empty or the frame is larger.
func (q *queue) popUpTo(limit int) (frame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 || len(q.ring[q.head].data) > limit {
		return frame{}, false
	}
	f := q.ring[q.head]
	q.ring[q.head] = frame{} // drop the reference to its data
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	q.size -= len(f.data)
	if q.n > 0 {
		q.signal()
		return f, true
	}
	select { // empty: take back the token, if the consumer has not
	case <-q.ready:
	default:
	}
	q.head = 0
	if len(q.ring) > minQueue {
		q.ring = nil // the next push allocates minQueue frames again
	}
	return f, true
}

// signal puts a token in ready, unless one is there.
func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// len returns how many frames are queued.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// bytes returns how many bytes of frame data are queued.
func (q *queue) bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.size
}
