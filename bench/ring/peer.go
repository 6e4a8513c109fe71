package main

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

// peerSource is the Python peer, run with python3 -c.
//
//go:embed peer.py
var peerSource string

// Transports, as named on the command line and in the results.
const (
	transportSock     = "sock"     // (a) the socketpair
	transportRing     = "ring"     // (b) shared-memory rings, futex wake-ups
	transportRingSpin = "ringspin" // (c) (b) with a spin before sleeping
	transportRingEFD  = "ringefd"  // (b) with eventfd wake-ups (Go's through the netpoller)
)

// errRingUnsupported is what starting a ring peer returns on platforms
// other than linux/amd64.
var errRingUnsupported = fmt.Errorf("ring bench: the shared-memory ring is unsupported on %s/%s (it needs linux/amd64: futex, memfd, x86-64 store order)", runtime.GOOS, runtime.GOARCH)

// peer is one Python peer process and the client that talks to it.
type peer struct {
	transport string
	direct    bool
	cmd       *exec.Cmd
	cl        client
	exited    chan struct{} // closed when the process has exited
	waitErr   error         // set before exited is closed
}

// dialOptions are how startPeer builds a peer.
type dialOptions struct {
	python string        // the interpreter
	direct bool          // no hand-off: the caller reads its own answer
	window int           // calls in flight at most (handoff)
	spin   time.Duration // ringspin: how long each side polls before sleeping
	stderr io.Writer     // the peer's stderr
}

// startPeer starts a Python peer on transport and connects a client.
func startPeer(transport string, o dialOptions) (*peer, error) {
	var (
		l     link
		files []*os.File
		args  []string
		onEnd func()
	)
	switch transport {
	case transportSock:
		s, f, err := newSocketpair()
		if err != nil {
			return nil, err
		}
		l, files, args = s, []*os.File{f}, []string{"sock"}
	case transportRing, transportRingSpin, transportRingEFD:
		spin := time.Duration(0)
		if transport == transportRingSpin {
			spin = o.spin
		}
		efd := transport == transportRingEFD
		r, fs, err := newRing(o.window, spin, efd)
		if err != nil {
			return nil, err
		}
		l, files, onEnd = r, fs, r.peerExited
		args = []string{"ring", strconv.Itoa(ringSize(o.window)), strconv.FormatInt(spin.Nanoseconds(), 10)}
		if efd {
			args = append(args, "eventfd")
		}
	default:
		return nil, fmt.Errorf("ring bench: unknown transport %q (want %s, %s, %s or %s)", transport, transportSock, transportRing, transportRingSpin, transportRingEFD)
	}
	cmd := exec.Command(o.python, append([]string{"-c", peerSource}, args...)...)
	cmd.ExtraFiles = files // from fd 3 on
	cmd.Stderr = o.stderr
	err := cmd.Start()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		l.close()
		return nil, fmt.Errorf("ring bench: starting %s: %w", o.python, err)
	}
	p := &peer{transport: transport, direct: o.direct, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		if onEnd != nil {
			onEnd() // the ring has no EOF: tell its reader
		}
		close(p.exited)
	}()
	if o.direct {
		p.cl = newDirectClient(l)
	} else {
		p.cl = newHandoffClient(l, o.window)
	}
	return p, nil
}

// name is the peer's row label: transport and mode.
func (p *peer) name() string {
	if p.direct {
		return p.transport + " direct"
	}
	return p.transport + " handoff"
}

// cpu returns the peer's user+system CPU time so far, as it reports it.
func (p *peer) cpu() (time.Duration, error) {
	var out [maxPayload]byte
	n, err := p.cl.call(opStats, 0, nil, out[:])
	if err != nil {
		return 0, err
	}
	if n != 16 {
		return 0, fmt.Errorf("ring bench: STATS answer of %d bytes", n)
	}
	us := binary.LittleEndian.Uint64(out[:]) + binary.LittleEndian.Uint64(out[8:])
	return time.Duration(us) * time.Microsecond, nil
}

// stop asks the peer to quit, waits up to two seconds, then kills it.
func (p *peer) stop() error {
	quitErr := make(chan error, 1)
	go func() {
		var out [maxPayload]byte
		_, err := p.cl.call(opQuit, 0, nil, out[:]) // no answer: returns when the link ends
		quitErr <- err
	}()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cl.close()
	<-quitErr
	if p.waitErr != nil {
		return fmt.Errorf("ring bench: %s peer: %w", p.name(), p.waitErr)
	}
	return nil
}
