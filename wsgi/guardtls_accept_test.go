package wsgi

import (
	"bytes"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

// flakyListener fails its first fails Accepts with err, as accept(2) does
// while the process is out of descriptors.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
	err   error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestGuardTLSAcceptErrors: a temporary accept error (the process or the
// system out of descriptors) does not end a
// GuardTLS listener: it is handed to the server, which logs it and retries
// as it does for a plain listener, and the next connection is served.
// Before, GuardTLS closed its listener at the first EMFILE: the HTTPS port
// refused every connection from then on while net/http logged "too many
// open files; retrying in 1s" every second. An error that is not
// temporary (the listener closed) still ends it.
func TestGuardTLSAcceptErrors(t *testing.T) {
	c, _ := newContainer(t, Config{App: "boundaryapp:app"})
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	srvCfg := ts.TLS.Clone()
	tr := ts.Client().Transport.(*http.Transport).Clone()
	ts.Close()
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	for _, tc := range []struct {
		name  string
		errno syscall.Errno
	}{
		{"EMFILE", syscall.EMFILE},
		{"ENFILE", syscall.ENFILE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			accErr := &net.OpError{Op: "accept", Net: "tcp", Addr: ln.Addr(), Err: os.NewSyscallError("accept4", tc.errno)}
			fl := &flakyListener{Listener: ln, fails: 3, err: accErr}
			var logs pythontest.Buffer
			srv := &http.Server{Handler: c, ErrorLog: log.New(&logs, "", 0)}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(GuardTLS(fl, srvCfg, RequestLimits{})) }()
			t.Cleanup(func() { srv.Close() })
			resp, b, err := get(t, client, "GET", "https://"+ln.Addr().String()+"/after", nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("after %d accept errors (%v): %v %v %s; server log:\n%s", 3, accErr, resp, err, b, logs.String())
			}
			if !bytes.Contains([]byte(logs.String()), []byte(tc.errno.Error())) {
				t.Errorf("the server did not log the accept error %q:\n%s", tc.errno.Error(), logs.String())
			}
			srv.Close()
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve returned %v after Close, want ErrServerClosed", err)
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gl := GuardTLS(ln, srvCfg, RequestLimits{})
		ln.Close() // under the guard: its accept fails for good
		if _, err := gl.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after the listener closed: %v, want net.ErrClosed", err)
		}
	})
}
