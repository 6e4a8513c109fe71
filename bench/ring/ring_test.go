package main

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// startTestPeer starts a real Python peer, stopped at the end of the test.
// python is the interpreter, checked once per test function.
func startTestPeer(t *testing.T, python, transport string, direct bool, window int) (*peer, *pythontest.Buffer) {
	t.Helper()
	stderr := new(pythontest.Buffer)
	p, err := startPeer(transport, dialOptions{
		python: python,
		direct: direct,
		window: window,
		spin:   20 * time.Microsecond,
		stderr: stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop() })
	return p, stderr
}

// exchange makes n pings from each of conc goroutines and checks every
// answer.
func exchange(t *testing.T, p *peer, conc, n, reqSize, respSize int, work byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, reqSize)
			out := make([]byte, maxPayload)
			for i := range n {
				fillPing(req, respSize, uint64(g)<<32|uint64(i))
				m, err := p.cl.call(opPing, work, req, out)
				if err == nil {
					err = checkPong(req, out[:m])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestExchange(t *testing.T) {
	py := pythontest.Python(t, "ctypes", "mmap")
	tests := []struct {
		transport string
		direct    bool
		conc      int
	}{
		{transportSock, true, 1},
		{transportSock, true, 3}, // serialized by the direct client's mutex
		{transportSock, false, 1},
		{transportSock, false, 8},
		{transportRing, true, 1},
		{transportRing, true, 3},
		{transportRing, false, 1},
		{transportRing, false, 8},
		{transportRingSpin, true, 1},
		{transportRingSpin, false, 8},
		{transportRingEFD, true, 1},
		{transportRingEFD, false, 1},
		{transportRingEFD, false, 8},
	}
	for _, tc := range tests {
		name := tc.transport + map[bool]string{true: "/direct", false: "/handoff"}[tc.direct] + "/" + string(rune('0'+tc.conc))
		t.Run(name, func(t *testing.T) {
			if tc.transport != transportSock && !ringSupported {
				_, err := startPeer(tc.transport, dialOptions{python: "python3", window: 4})
				if !errors.Is(err, errRingUnsupported) {
					t.Fatalf("startPeer on an unsupported platform: %v, want errRingUnsupported", err)
				}
				return
			}
			// A window of 2 makes each ring 16 KiB: 200 requests of 208
			// bytes wrap around it twice, with frames split at its end.
			p, stderr := startTestPeer(t, py, tc.transport, tc.direct, 2)
			exchange(t, p, tc.conc, 200/tc.conc, 200, 100, 0)
			exchange(t, p, tc.conc, 5, 4096, 4096, 2) // largest frames, some work
			exchange(t, p, tc.conc, 5, 4, 0, 0)       // empty answers
			cpu, err := p.cpu()
			if err != nil || cpu <= 0 {
				t.Errorf("peer CPU %v, %v", cpu, err)
			}
			if err := p.stop(); err != nil {
				t.Errorf("stop: %v\npeer stderr: %s", err, stderr)
			}
		})
	}
}

// TestPeerDeath: a peer that dies mid-exchange fails the calls in flight
// and those after, never hangs them: the socket sees EOF, the ring
// learns it from the process's exit.
func TestPeerDeath(t *testing.T) {
	py := pythontest.Python(t, "ctypes", "mmap")
	for _, tr := range []string{transportSock, transportRing, transportRingSpin, transportRingEFD} {
		for _, direct := range []bool{true, false} {
			t.Run(tr+map[bool]string{true: "/direct", false: "/handoff"}[direct], func(t *testing.T) {
				if tr != transportSock && !ringSupported {
					t.Log("the ring is unsupported here; TestExchange checks the error")
					return
				}
				p, _ := startTestPeer(t, py, tr, direct, 4)
				exchange(t, p, 1, 10, 200, 100, 0)
				done := make(chan error, 1)
				go func() {
					req := make([]byte, 200)
					out := make([]byte, maxPayload)
					fillPing(req, 100, 1)
					for {
						// 200 µs of work: the kill lands mid-call or
						// between calls.
						if _, err := p.cl.call(opPing, 200, req, out); err != nil {
							done <- err
							return
						}
					}
				}()
				time.Sleep(20 * time.Millisecond)
				p.cmd.Process.Kill()
				select {
				case err := <-done:
					if err == nil {
						t.Fatal("call after the peer died succeeded")
					}
				case <-time.After(3 * time.Second):
					t.Fatal("call hangs after the peer died")
				}
				if err := p.stop(); err == nil || !strings.Contains(err.Error(), "killed") {
					t.Errorf("stop after kill: %v, want the peer's exit status", err)
				}
			})
		}
	}
}

// TestPeerProtocolError: the peer rejects a bad frame with a message on
// stderr and exit status 2; Go's call fails.
func TestPeerProtocolError(t *testing.T) {
	py := pythontest.Python(t, "ctypes", "mmap")
	for _, tr := range []string{transportSock, transportRing, transportRingEFD} {
		t.Run(tr, func(t *testing.T) {
			if tr != transportSock && !ringSupported {
				return
			}
			p, stderr := startTestPeer(t, py, tr, true, 4)
			out := make([]byte, maxPayload)
			if _, err := p.cl.call(99, 0, []byte("x"), out); err == nil {
				t.Fatal("an unknown op succeeded")
			}
			<-p.exited
			if !strings.Contains(stderr.String(), "unknown op 99") {
				t.Errorf("peer stderr %q, want the unknown op", stderr)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		h       header
		wantErr bool
	}{
		{header{length: 0, stream: 0, op: opPing}, false},
		{header{length: maxPayload, stream: 65535, op: opStats, flags: 255}, false},
		{header{length: maxPayload + 1, op: opPing}, true},
		{header{length: 1 << 31, op: opPing}, true},
	}
	for _, tc := range tests {
		var b [headerSize]byte
		putHeader(b[:], tc.h)
		got, err := parseHeader(b[:])
		if (err != nil) != tc.wantErr {
			t.Errorf("parseHeader(%+v): err %v, want error %v", tc.h, err, tc.wantErr)
		}
		if got != tc.h {
			t.Errorf("round trip %+v → %+v", tc.h, got)
		}
	}
}

func TestCheckPong(t *testing.T) {
	req := make([]byte, 16)
	fillPing(req, 8, 7)
	good := make([]byte, 8)
	for i := range good {
		good[i] = req[len(req)-1-i]
	}
	bad := bytes.Clone(good)
	bad[3] ^= 1
	for _, tc := range []struct {
		name string
		resp []byte
		ok   bool
	}{{"good", good, true}, {"flipped", bad, false}, {"short", good[:7], false}} {
		if err := checkPong(req, tc.resp); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
