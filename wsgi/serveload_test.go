package wsgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeSignalsUnderLoad: through Serve's own signal handling, SIGHUPs
// under a steady load reload the workers without failing a request, and a
// SIGTERM with slow requests in flight answers them all and every request
// of the load that reached the server, while new connections are refused
// (ECONNREFUSED: never a 5xx, nor a reset or an EOF on a connection that
// was reused or got a response); Serve then returns nil. The one
// exception is the kernel's: a connection still in the listener's accept
// queue when the listener closes is reset (in 1 of 15 runs here; gunicorn
// and nginx close their listeners alike). It is a fresh connection that
// never got a byte back, and it can happen once per client: the next
// connection is refused. More such failures than clients would be the
// server dropping connections it accepted.
func TestServeSignalsUnderLoad(t *testing.T) {
	s := startServe(t, context.Background(), writeServeApp(t, "v1"), ServeConfig{GracefulTimeout: 20 * time.Second})

	lg := startLoad(t, s.url+"/", 4)
	for i := range 3 {
		gen := s.c.Status().Generation
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		waitFor(t, 30*time.Second, fmt.Sprintf("reload %d", i+1), func() bool { return s.c.Status().Generation > gen })
	}
	time.Sleep(200 * time.Millisecond) // some load on the last generation
	lg.checkNoFailures(t, 10)

	// Shutdown: a load whose failures must all be refused connections
	// once the listener is closed, and slow requests in flight.
	stop := make(chan struct{})
	var mu sync.Mutex
	var ok, refused int
	var bad, queued []string // queued: reset in the accept queue (see above)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	const clients = 4
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// fresh: the connection was dialled for this request (or
				// its dial failed), not reused.
				fresh, answered := true, false
				trace := &httptrace.ClientTrace{
					GotConn:              func(info httptrace.GotConnInfo) { fresh = !info.Reused },
					GotFirstResponseByte: func() { answered = true },
				}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.url+"/", nil)
				resp, err := client.Do(req)
				var b []byte
				if err == nil {
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					refused++
				case err != nil && fresh && !answered &&
					(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
					queued = append(queued, err.Error())
				case err != nil:
					bad = append(bad, err.Error())
				case resp.StatusCode != 200 || !strings.HasPrefix(string(b), "v1 "):
					bad = append(bad, fmt.Sprintf("%d %q", resp.StatusCode, b))
				default:
					ok++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	slow := make(chan string, 3)
	for range 3 {
		go func() {
			resp, err := http.Get(s.url + "/sleep?s=2")
			if err != nil {
				slow <- err.Error()
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			slow <- fmt.Sprintf("%d %s %v", resp.StatusCode, strings.Fields(string(b))[0], err)
		}()
	}
	waitFor(t, 10*time.Second, "the slow requests to start", func() bool {
		return strings.Count(s.mustStatus(t), `"/sleep"`) >= 2
	})
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	for range 3 {
		if got := <-slow; got != "200 v1 <nil>" {
			t.Errorf("a slow request in flight at SIGTERM: %s; want 200", got)
		}
	}
	s.waitStopped(t)
	time.Sleep(100 * time.Millisecond) // refused ones, after Serve returned
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("shutdown load: %d ok, %d refused, %d reset in the accept queue, %d bad", ok, refused, len(queued), len(bad))
	if len(bad) > 0 {
		t.Errorf("%d requests failed otherwise than refused; first: %s", len(bad), strings.Join(bad[:min(5, len(bad))], "\n"))
	}
	if len(queued) > clients {
		t.Errorf("%d fresh connections reset or closed unanswered, more than one per client (%d): the server dropped connections it accepted; first: %s",
			len(queued), clients, strings.Join(queued[:min(5, len(queued))], "\n"))
	}
	if refused == 0 {
		t.Error("no request was refused after the listener closed")
	}
}
