package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// hammer is the load generator, the same for funcsignalr and the baseline:
// conns keep-alive HTTP/1.1 connections to addr, each sending req and reading
// the whole answer in a loop. It is written on raw connections because
// net/http's client costs several times what a tiny server does, and client
// and server share the machine's cores. After warm-up it counts answers for
// dur and returns answers per second and the server's CPU time per answer
// over the same window (cpu reads the server's CPU time). Any answer but 200
// is an error.
func hammer(addr string, req []byte, conns int, warmup, dur time.Duration, cpu func() (time.Duration, error)) (rps float64, cpuPerReq time.Duration, err error) {
	var (
		count   atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	fail := func(err error) { errOnce.Do(func() { first = err; stop.Store(true) }) }
	deadline := time.Now().Add(warmup + dur + 10*time.Second) // bounds every loop
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				fail(err)
				return
			}
			defer c.Close()
			c.SetDeadline(deadline)
			br := bufio.NewReaderSize(c, 8<<10)
			for !stop.Load() {
				if _, err := c.Write(req); err != nil {
					fail(err)
					return
				}
				if err := readResponse(br); err != nil {
					fail(err)
					return
				}
				count.Add(1)
			}
		}()
	}
	time.Sleep(warmup)
	cpu0, err0 := cpu()
	c0, t0 := count.Load(), time.Now()
	time.Sleep(dur)
	c1, t1 := count.Load(), time.Now()
	cpu1, err1 := cpu()
	stop.Store(true)
	wg.Wait()
	if first != nil {
		return 0, 0, fmt.Errorf("load on %s: %w", addr, first)
	}
	if err := errors.Join(err0, err1); err != nil {
		return 0, 0, fmt.Errorf("server CPU time: %w", err)
	}
	if c1 == c0 {
		return 0, 0, fmt.Errorf("load on %s: no answer in %v", addr, dur)
	}
	return float64(c1-c0) / t1.Sub(t0).Seconds(), (cpu1 - cpu0) / time.Duration(c1-c0), nil
}

// readResponse reads one HTTP/1.1 answer with a Content-Length and checks
// that it is 200 and keeps the connection open.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer %q, want HTTP/1.1 200", bytes.TrimSpace(line))
	}
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return fmt.Errorf("Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			return errors.New("the server closes the connection")
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return errors.New("chunked answer: want a Content-Length")
		}
	}
	if length < 0 {
		return errors.New("answer without Content-Length")
	}
	_, err = br.Discard(length)
	return err
}
