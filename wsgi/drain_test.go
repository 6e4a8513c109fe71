package wsgi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestShutdownIdleKeepAlive: a request sent on an idle keep-alive
// connection just after the shutdown begins is answered, with
// Connection: close, instead of being lost to the connection closing
// under it (the client sees EOF or a reset, and only a client that
// retries idempotent requests gets over it). Each of 40 idle connections
// sends its second request 2 ms after the one before, from a time after
// ctx is cancelled; a request running when the shutdown begins is
// answered, and so is the next one on its connection, with Connection:
// close. Before, net/http's Shutdown closed idle connections at once: on
// an idle machine all 40 were lost (see docs/operations.md for the runs).
// ServeConfig.KeepAliveDrain: the default drain (1s) answers the ones sent
// from 0 ms; a drain of 3s those sent from 1.5s, past the default (before
// the setting, the drain was 1s whatever the grace period); a negative one
// drains nothing: the idle connections are closed at once, and those sent
// from 300 ms find them closed.
func TestShutdownIdleKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		drain    time.Duration // ServeConfig.KeepAliveDrain
		from     time.Duration // when the first idle connection sends, after the cancel
		answered bool          // the requests sent then are answered, else lost
	}{
		{"default drain", 0, 0, true},
		{"longer drain", 3 * time.Second, 1500 * time.Millisecond, true},
		{"no drain", -1, 300 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testShutdownIdleKeepAlive(t, tc.drain, tc.from, tc.answered)
		})
	}
}

func testShutdownIdleKeepAlive(t *testing.T, drain, from time.Duration, answered bool) {
	const conns = 40
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, NoSocketActivation: true})
	if err != nil {
		t.Fatal(err)
	}
	addr := ls.Main[0].Addr().String()
	slow, running := make(chan struct{}), make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			running <- struct{}{}
			<-slow
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
	logs := &pythontest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, h, nil, ServeConfig{NoSignals: true, GracefulTimeout: 20 * time.Second, KeepAliveDrain: drain, Logger: slogNew(logs)})
	}()

	type client struct {
		c net.Conn
		r *bufio.Reader
	}
	request := func(cl client, path string) (*http.Response, string, error) {
		if _, err := io.WriteString(cl.c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return nil, "", err
		}
		resp, err := http.ReadResponse(cl.r, nil)
		if err != nil {
			return nil, "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), err
	}
	dial := func() client {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(30 * time.Second))
		return client{c, bufio.NewReader(c)}
	}
	idle := make([]client, conns)
	for i := range idle {
		idle[i] = dial()
		if resp, _, err := request(idle[i], "/first"); err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("connection %d, first request: %v", i, err)
		}
	}
	// One request in flight when the shutdown begins.
	busy := dial()
	busyDone := make(chan error, 1)
	go func() {
		resp, body, err := request(busy, "/slow")
		if err == nil && (resp.StatusCode != 200 || body != "ok /slow") {
			err = fmt.Errorf("status %d, body %q", resp.StatusCode, body)
		}
		if err == nil && !resp.Close {
			// Begun before the shutdown, it kept its connection: the
			// next request on it is answered, and closes it.
			resp, body, err = request(busy, "/after-slow")
			if err == nil && (resp.StatusCode != 200 || body != "ok /after-slow" || !resp.Close) {
				err = fmt.Errorf("after the slow request: status %d, body %q, close %v; want 200 with Connection: close", resp.StatusCode, body, resp.Close)
			}
		}
		if err == nil {
			// The client does as told: it sends nothing more.
			_, err = busy.r.ReadByte()
			if err == io.EOF {
				err = nil
			} else {
				err = fmt.Errorf("the connection after Connection: close: read %v; want EOF", err)
			}
		}
		busyDone <- err
	}()
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request did not start")
	}

	cancel()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for i, cl := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(from + time.Duration(i)*2*time.Millisecond)))
			resp, body, err := request(cl, fmt.Sprint("/second-", i))
			switch {
			case !answered && err == nil:
				errs[i] = fmt.Errorf("answered (status %d); want the connection closed, with no drain", resp.StatusCode)
			case !answered:
			case err != nil:
				errs[i] = err
			case resp.StatusCode != 200 || body != fmt.Sprint("ok /second-", i):
				errs[i] = fmt.Errorf("status %d, body %q", resp.StatusCode, body)
			case !resp.Close:
				errs[i] = fmt.Errorf("no Connection: close during the shutdown (%v)", resp.Header)
			}
		}()
	}
	wg.Wait()
	close(slow)
	lost := 0
	for i, err := range errs {
		if err != nil {
			lost++
			if lost <= 5 {
				t.Errorf("connection %d, request sent %v after the shutdown began: %v", i, from+time.Duration(i)*2*time.Millisecond, err)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d requests sent on idle keep-alive connections during the shutdown were not as wanted (answered: %v)", lost, conns, answered)
	}
	if err := <-busyDone; err != nil {
		t.Errorf("the request running when the shutdown began: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return")
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}

// TestKeepAliveDrain: how long Serve drains for each ServeConfig (its
// GracefulTimeout defaulted): the default 1s, bounded by a quarter of the
// grace period; a value set; none when negative.
func TestKeepAliveDrain(t *testing.T) {
	for _, tc := range []struct {
		name         string
		drain, grace time.Duration
		want         time.Duration
	}{
		{"default", 0, 30 * time.Second, time.Second},
		{"default, short grace", 0, 2 * time.Second, 500 * time.Millisecond},
		{"set", 60 * time.Second, 240 * time.Second, 60 * time.Second},
		{"set, a quarter of the grace", 5 * time.Second, 20 * time.Second, 5 * time.Second},
		{"negative: none", -1, 30 * time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ServeConfig{KeepAliveDrain: tc.drain, GracefulTimeout: tc.grace}
			if err := checkKeepAliveDrain(cfg); err != nil {
				t.Fatal(err)
			}
			if got := keepAliveDrain(cfg); got != tc.want {
				t.Errorf("keepAliveDrain = %v, want %v", got, tc.want)
			}
		})
	}
}
