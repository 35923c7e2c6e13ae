package localservice

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hasToken reports whether q.ready holds a token, and puts it back.
func hasToken(q *queue) bool {
	select {
	case <-q.ready:
		q.ready <- struct{}{}
		return true
	default:
		return false
	}
}

// pushN returns n push steps of frames prefix0, prefix1, ...
func pushN(prefix string, n int) []string {
	steps := make([]string, n)
	for i := range steps {
		steps[i] = "+" + prefix + strconv.Itoa(i)
	}
	return steps
}

// popN returns n pop steps expecting frames prefix0, prefix1, ...
func popN(prefix string, n int) []string {
	steps := make([]string, n)
	for i := range steps {
		steps[i] = "-" + prefix + strconv.Itoa(i)
	}
	return steps
}

func concat(parts ...[]string) []string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// TestQueue runs scripts of steps on a queue: "+a" pushes frame a, "+a!"
// expects that push refused, "-a" pops expecting frame a, "-" pops expecting
// nothing, "<" takes the token from ready as the consumer does before it
// pops, "cap=N" checks the ring's capacity. After every step, len and bytes
// must be what was pushed and not popped, and ready must hold a token
// exactly when that is not zero, except just after "<". bytes is the byte
// budget, none when 0.
func TestQueue(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		steps []string
		bytes int
	}{
		{"empty", 4, []string{"cap=0", "-", "cap=0"}, 0},
		{"order", 4, []string{"+a", "+b", "+c", "-a", "-b", "+d", "+e", "-c", "-d", "-e", "-"}, 0},
		{"consumer takes the token", 8, []string{"+a", "+b", "<", "-a", "<", "-b", "+c", "<", "+d", "-c", "-d"}, 0},
		{"bound", 3, []string{"+a", "+b", "+c", "+d!", "-a", "+d", "+e!", "-b", "-c", "-d", "-"}, 0},
		{"bound of one", 1, []string{"+a", "cap=1", "+b!", "-a", "-", "+b", "-b"}, 0},
		{"limit below minQueue", 2, []string{"+a", "cap=2", "+b", "+c!", "-a", "-b", "cap=2"}, 0},
		{"first push allocates minQueue", 1024, []string{"cap=0", "+a", "cap=8", "-a", "cap=8"}, 0},
		{"grows by doubling, shrinks once drained", 1024, concat(
			pushN("x", 8), []string{"cap=8", "+y", "cap=16"}, pushN("z", 16), []string{"cap=32"},
			popN("x", 8), []string{"-y"}, popN("z", 15), []string{"cap=32", "-z15", "cap=0", "-", "+a", "cap=8", "-a"}), 0},
		{"grows up to the limit", 20, concat(
			pushN("x", 20), []string{"cap=20", "+y!"}, popN("x", 20), []string{"cap=0"}), 0},
		{"grows a wrapped ring in order", 64, concat(
			pushN("a", 6), popN("a", 4), pushN("b", 6), []string{"cap=8", "+c", "cap=16", "-a4", "-a5"},
			popN("b", 6), []string{"-c", "-"}), 0},
		{"full ring without growth room wraps", 4, concat(
			pushN("a", 4), []string{"-a0", "-a1", "+b", "+c", "+d!", "-a2", "-a3", "-b", "-c", "-"}), 0},
		{"byte bound", 100, []string{"+aa", "+bb", "+ccc!", "+c", "+d!", "-aa", "+dd", "+e!", "-bb", "-c", "-dd", "-"}, 5},
		{"byte bound before the count bound", 3, []string{"+aaa", "+bb", "+c!", "-aaa", "+c", "+d", "+e!", "-bb", "-c", "-d"}, 5},
		{"count bound before the byte bound", 2, []string{"+a", "+b", "+c!", "-a", "+c", "-b", "-c"}, 5},
		{"an empty queue takes a frame over the budget", 8, []string{"+abcdef", "+g!", "-abcdef", "+g", "+hijklm!", "-g", "+hijklm", "-hijklm"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := tt.bytes
			if budget == 0 {
				budget = math.MaxInt
			}
			q := newQueue(tt.limit, budget)
			var want []string // queued, oldest first
			for i, step := range tt.steps {
				taken := false
				switch {
				case step == "<":
					select {
					case <-q.ready:
						taken = true
					default:
						t.Fatalf("step %d: no token in ready", i)
					}
				case len(step) > 4 && step[:4] == "cap=":
					if got := strconv.Itoa(len(q.ring)); got != step[4:] {
						t.Fatalf("step %d %s: capacity %s", i, step, got)
					}
				case step[0] == '+':
					data, refused := step[1:], step[len(step)-1] == '!'
					if refused {
						data = data[:len(data)-1]
					}
					if ok := q.push(frame{data: []byte(data)}); ok == refused {
						t.Fatalf("step %d %s: push returned %v", i, step, ok)
					}
					if !refused {
						want = append(want, data)
					}
				case step == "-":
					if f, ok := q.pop(); ok {
						t.Fatalf("step %d: popped %q from an empty queue", i, f.data)
					}
				default:
					f, ok := q.pop()
					if !ok || string(f.data) != step[1:] {
						t.Fatalf("step %d %s: popped %q, %v", i, step, f.data, ok)
					}
					if step[1:] != want[0] {
						t.Fatalf("bad script: step %d pops %s, the model has %s", i, step, want[0])
					}
					want = want[1:]
				}
				if got := q.len(); got != len(want) {
					t.Fatalf("step %d %s: len %d, want %d", i, step, got, len(want))
				}
				if got, wantBytes := q.bytes(), len(strings.Join(want, "")); got != wantBytes {
					t.Fatalf("step %d %s: bytes %d, want %d", i, step, got, wantBytes)
				}
				if got := hasToken(&q); got != (len(want) > 0 && !taken) {
					t.Fatalf("step %d %s: ready has a token: %v with %d queued", i, step, got, len(want))
				}
			}
		})
	}
}

// TestQueueKeepsLast checks that a frame comes out as it went in.
func TestQueueKeepsLast(t *testing.T) {
	q := newQueue(4, math.MaxInt)
	q.push(frame{data: []byte("a")})
	q.push(frame{data: []byte("bye"), last: true})
	if f, _ := q.pop(); f.last {
		t.Error("frame a came out last")
	}
	if f, _ := q.pop(); string(f.data) != "bye" || !f.last {
		t.Errorf("got %q last=%v, want bye last=true", f.data, f.last)
	}
}

// TestQueueReleasesFrames checks that the ring keeps no reference to the
// data of popped frames.
func TestQueueReleasesFrames(t *testing.T) {
	q := newQueue(4, math.MaxInt)
	q.push(frame{data: []byte("a")})
	q.push(frame{data: []byte("b")})
	q.pop()
	for i, f := range q.ring {
		if f.data != nil && string(f.data) != "b" {
			t.Errorf("slot %d still holds %q", i, f.data)
		}
	}
}

// TestQueueWakesConsumer checks that a consumer blocked on ready wakes up
// on pushes, and that no token is left once it drained the queue.
func TestQueueWakesConsumer(t *testing.T) {
	q := newQueue(8, math.MaxInt)
	got := make(chan string)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-q.ready:
				var s string
				for f, ok := q.pop(); ok; f, ok = q.pop() {
					s += string(f.data)
				}
				got <- s
			case <-stop:
				return
			}
		}
	}()
	for _, batch := range []string{"a", "bc", "def"} {
		time.Sleep(10 * time.Millisecond) // let the consumer block
		for _, d := range batch {
			q.push(frame{data: []byte{byte(d)}})
		}
		for s := ""; s != batch; { // one wake-up or several
			select {
			case g := <-got:
				if s += g; !strings.HasPrefix(batch, s) {
					t.Fatalf("consumer got %q, want %q", s, batch)
				}
			case <-time.After(testTimeout):
				t.Fatalf("consumer got %q, then was not woken", s)
			}
		}
		if hasToken(&q) {
			t.Fatal("ready holds a token with nothing queued")
		}
	}
}

// TestQueueConcurrentProducers pushes from many goroutines into a small
// queue, retrying when it is full, while one consumer waits on ready and
// pops: every frame arrives once, each producer's in order, a receive from
// ready is always followed by a frame, and the bound always holds.
func TestQueueConcurrentProducers(t *testing.T) {
	for _, limit := range []int{1, 16, 1 << 14} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			const producers, each = 8, 2000
			q := newQueue(limit, math.MaxInt)
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					for i := 0; i < each; {
						if q.push(frame{data: []byte(fmt.Sprint(p, " ", i)), last: i == each-1}) {
							i++
						} else {
							runtime.Gosched()
						}
					}
				})
			}
			next := make([]int, producers) // frames seen per producer
			for seen := 0; seen < producers*each; seen++ {
				select {
				case <-q.ready:
				case <-time.After(testTimeout):
					t.Fatalf("no wake-up after %d frames, %d queued", seen, q.len())
				}
				f, ok := q.pop()
				if !ok {
					t.Fatalf("ready fired with nothing queued after %d frames", seen)
				}
				if n := q.len(); n > limit {
					t.Fatalf("%d frames queued, limit %d", n, limit)
				}
				var p, i int
				fmt.Sscan(string(f.data), &p, &i)
				if i != next[p] || f.last != (i == each-1) {
					t.Fatalf("producer %d: got frame %d (last=%v), want %d", p, i, f.last, next[p])
				}
				next[p]++
			}
			wg.Wait()
			if _, ok := q.pop(); ok || hasToken(&q) {
				t.Error("the queue is not empty at the end")
			}
		})
	}
}

// TestNextBatch checks how a writer coalesces queued frames: small ones
// into one write of at most maxBatch bytes, a large one alone and not
// copied, and up to the last frame.
func TestNextBatch(t *testing.T) {
	small := func(b byte) frame { return frame{data: bytes.Repeat([]byte{b}, 1000)} }
	large := frame{data: bytes.Repeat([]byte{'L'}, maxBatch+1)}
	tests := []struct {
		name     string
		first    frame
		queued   []frame
		wantLen  int  // bytes of the write
		wantLast bool // it ends with the last frame
		wantLeft int  // frames still queued
		sameData bool // the write is first.data itself, not a copy
	}{
		{"alone", small('a'), nil, 1000, false, 0, true},
		{"small ones coalesce", small('a'), []frame{small('b'), small('c')}, 3000, false, 0, false},
		{"up to maxBatch", small('a'), slices.Repeat([]frame{small('b')}, 100), 1000 * (maxBatch / 1000), false, 100 - (maxBatch/1000 - 1), false},
		{"a large first frame goes alone", large, []frame{small('b')}, maxBatch + 1, false, 1, true},
		{"a large queued frame waits for its own write", small('a'), []frame{small('b'), large, small('c')}, 2000, false, 2, false},
		{"up to the last frame", small('a'), []frame{small('b'), {data: []byte("bye"), last: true}}, 2003, true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conn{out: newQueue(1024, math.MaxInt)}
			for _, f := range tt.queued {
				c.out.push(f)
			}
			var batch []byte
			p, last := c.next(tt.first, &batch)
			if len(p) != tt.wantLen || last != tt.wantLast || c.out.len() != tt.wantLeft {
				t.Fatalf("got a write of %d bytes, last %v, %d left; want %d, %v, %d", len(p), last, c.out.len(), tt.wantLen, tt.wantLast, tt.wantLeft)
			}
			if same := &p[0] == &tt.first.data[0]; same != tt.sameData {
				t.Errorf("write is the first frame's own data: %v, want %v", same, tt.sameData)
			}
			if cap(batch) > 2*maxBatch {
				t.Errorf("the batch buffer grew to %d bytes", cap(batch))
			}
		})
	}
}
