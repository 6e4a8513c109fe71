package wsgi

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// socketPair returns the two ends of a Unix stream socketpair.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// idlePool is a pool with one worker slot on a socket no process reads:
// enough to test acquire and send without Python.
func idlePool(t *testing.T) *pool {
	t.Helper()
	cfg, err := Config{App: "x:app", Workers: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	pl := &pool{cfg: cfg, log: cfg.Logger, procs: map[*proc]bool{}, zygotes: map[*zygote]bool{},
		stopped: make(chan struct{}), restarts: map[string]int64{}, maxRequest: maxFrame}
	ours, _ := socketPair(t)
	raw, err := ours.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{pool: pl, conn: ours, raw: raw, streams: map[uint16]*stream{}, dead: make(chan struct{}),
		exited: make(chan struct{}), log: cfg.Logger}
	pl.procs[p] = true
	pl.list = append(pl.list, p)
	return pl
}

// TestStartFailedSendIsNil: a request that cannot be sent gives a nil
// Exchange (not a typed nil *stream) and its slot back.
func TestStartFailedSendIsNil(t *testing.T) {
	pl := idlePool(t)
	pl.maxRequest = 100
	ex, err := pl.Start(context.Background(), &Request{Env: []string{"PATH_INFO", strings.Repeat("x", 200)}})
	if err == nil {
		t.Fatal("Start succeeded; want a too-large error")
	}
	if ex != nil {
		t.Fatalf("Start returned Exchange %#v with error %v; want nil", ex, err)
	}
	if n := pl.list[0].inflight; n != 0 {
		t.Errorf("%d slots still held", n)
	}
}
