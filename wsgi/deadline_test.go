package wsgi

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// withDeadline is a middleware that gives every request d to finish, the
// way chi's middleware.Timeout or a handler's own context.WithTimeout do.
func withDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// TestMiddlewareDeadline: a deadline set by a middleware is a timeout: 504
// before the headers, an aborted response after them, and in both cases the
// app is cancelled (its iterable's close() is called). It is not a client
// that went away, for which nothing is written.
func TestMiddlewareDeadline(t *testing.T) {
	a := startApp(t, "closing", Config{Workers: 1}, withDeadline(500*time.Millisecond))
	closed := func(tok string) func() bool { return func() bool { return exists(a.dir, tok+"-closed") } }

	t.Run("before headers", func(t *testing.T) {
		resp, b, _ := get(t, nil, "GET", a.srv.URL+"/?mode=late&tok=late", nil)
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("status %d %q, want 504", resp.StatusCode, b)
		}
		waitFor(t, 5*time.Second, "close() after the deadline", closed("late"))
	})
	t.Run("after headers", func(t *testing.T) {
		resp, err := http.Get(a.srv.URL + "/?mode=forever&tok=after")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Fatalf("read %d bytes and a clean end; want the response aborted", len(b))
		}
		if !strings.HasPrefix(string(b), "first;") {
			t.Errorf("body starts %.20q", b)
		}
		waitFor(t, 5*time.Second, "close() after the deadline", closed("after"))
	})
	t.Run("worker free again", func(t *testing.T) {
		if b := mustGet(t, a.srv.URL+"/?mode=ok&tok=ok"); string(b) != "first;last" {
			t.Errorf("got %q", b)
		}
	})
}

// TestMiddlewareDeadlineQueued: a request whose deadline passes while it
// waits for a worker gets 504, not an empty 200.
func TestMiddlewareDeadlineQueued(t *testing.T) {
	a := startApp(t, "dispatch", Config{Workers: 1, Threads: 1, Prefetch: -1}, withDeadline(time.Second))
	done := make(chan []byte)
	go func() {
		_, b, _ := get(t, nil, "GET", a.srv.URL+"/block?tok=q", nil)
		done <- b
	}()
	waitFor(t, 5*time.Second, "the blocking request to start", func() bool { return exists(a.dir, "q-started") })
	// Hold the only worker past the second request's deadline.
	resp, b, _ := get(t, nil, "GET", a.srv.URL+"/hello", nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("queued request: status %d %q, want 504", resp.StatusCode, b)
	}
	touch(t, a.dir, "q-go")
	<-done
}

// TestClientGoneWritesNothing: when the client really goes away, the
// container writes no error response and logs no failure.
func TestClientGoneWritesNothing(t *testing.T) {
	var wrote atomic.Int32
	spy := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&statusSpy{ResponseWriter: w, wrote: &wrote}, r)
		})
	}
	a := startApp(t, "closing", Config{Workers: 1}, spy)
	req, _ := http.NewRequest("GET", a.srv.URL+"/?mode=late&tok=gone", nil)
	ctx, cancel := context.WithCancel(context.Background())
	req = req.WithContext(ctx)
	go func() {
		// The client hangs up before any byte of the response, once the
		// app runs (a request cancelled before is never the app's).
		for deadline := time.Now().Add(10 * time.Second); !exists(a.dir, "gone-started") && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request succeeded; want it cancelled")
	}
	waitFor(t, 5*time.Second, "close() after the client went away", func() bool { return exists(a.dir, "gone-closed") })
	if n := wrote.Load(); n != 0 {
		t.Errorf("the container wrote %d responses to a client that went away", n)
	}
	if strings.Contains(a.logs.String(), "request failed") {
		t.Errorf("a client that went away was logged as a failure:\n%s", a.logs.String())
	}
}

// statusSpy counts WriteHeader calls.
type statusSpy struct {
	http.ResponseWriter
	wrote *atomic.Int32
}

func (s *statusSpy) WriteHeader(code int) {
	s.wrote.Add(1)
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusSpy) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestClientHalfClose: a client that shuts down its sending side while its
// request is served counts as gone (net/http cannot tell the two apart):
// it gets no invented response (an empty 200 before the app's, or a
// chunked body closed cleanly after part of it), only the connection
// closed, and the app is cancelled.
func TestClientHalfClose(t *testing.T) {
	a := startApp(t, "closing", Config{Workers: 1}, nil)
	for _, c := range []struct {
		name, target string
		waitFor      string // the response's bytes to read before the half-close
	}{
		{"before the response", "/?mode=late&tok=early", ""},
		{"mid-stream", "/?mode=forever&tok=mid", "first;"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", a.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, "GET "+c.target+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, 4096)
			for !strings.Contains(string(got), c.waitFor) {
				n, err := conn.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					t.Fatalf("before the half-close: %v after %q", err, got)
				}
			}
			if c.waitFor == "" { // the app is running, nothing sent yet
				waitFor(t, 10*time.Second, "the app started", func() bool { return exists(a.dir, "early-started") })
			}
			conn.(*net.TCPConn).CloseWrite()
			rest, err := io.ReadAll(conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection stayed open after the half-close; read %q", rest)
			}
			got = append(got, rest...)
			switch {
			case c.waitFor == "" && len(got) > 0:
				t.Errorf("a response the app never gave: %q", got)
			case c.waitFor != "" && strings.HasSuffix(string(got), "0\r\n\r\n"):
				t.Errorf("the chunked body was ended cleanly after part of it: %q", got[max(0, len(got)-60):])
			}
		})
	}
	waitFor(t, 5*time.Second, "the app cancelled", func() bool { return exists(a.dir, "early-closed") && exists(a.dir, "mid-closed") })
	if b := mustGet(t, a.srv.URL+"/?mode=ok&tok=ok"); string(b) != "first;last" {
		t.Errorf("next request: %q", b)
	}
}
