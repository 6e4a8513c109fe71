package wsgi

import (
	"context"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestIdleWorker: nobody reads the socket of a worker that has just gone
// idle (see reader.go), yet what it logs then is logged, and its death then
// is noticed and it is replaced.
func TestIdleWorker(t *testing.T) {
	t.Run("logs between requests", func(t *testing.T) {
		a := startApp(t, "dispatch", Config{Workers: 1}, nil)
		// The record comes after the response, while the worker has no
		// request: 10 ms after, while nobody reads its socket (read once
		// idleReadAfter is over), or 300 ms after, while the reader
		// goroutine waits in it.
		for i, s := range []string{"0.01", "0.3", "0.01", "0.3"} {
			m := "idle" + strconv.Itoa(i)
			mustGet(t, a.srv.URL+"/bglog?s="+s+"&m="+m)
			logHas(t, a.logs, 3*time.Second, "background-"+m)
		}
	})
	for _, preload := range []bool{true, false} {
		// Two reapers: the zygote reports its children's exits, and a
		// worker started without it is waited for by Go.
		t.Run("killed between requests, preload "+strconv.FormatBool(preload), func(t *testing.T) {
			a := startApp(t, "dispatch", Config{Workers: 1, NoPreload: !preload}, nil)
			pid, err := strconv.Atoi(string(mustGet(t, a.srv.URL+"/pid")))
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			logHas(t, a.logs, 3*time.Second, "worker died", "killed by signal 9")
			waitFor(t, 10*time.Second, "a replacement worker", func() bool {
				now := poolOf(a.c).pids()
				return len(now) == 1 && now[0] != pid
			})
			if got, _ := strconv.Atoi(string(mustGet(t, a.srv.URL+"/pid"))); got == pid || got == 0 {
				t.Errorf("served by pid %d after worker %d was killed", got, pid)
			}
		})
	}
}

// TestReaderHandOver: requests whose goroutines read the worker's socket
// themselves, follow one another and leave in every way a request can:
// each gets its own response, and the worker ends up idle and serving.
func TestReaderHandOver(t *testing.T) {
	t.Run("a client that leaves while its goroutine reads", func(t *testing.T) {
		c, _ := newContainer(t, Config{App: "apps:dispatch", Workers: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		w := httptest.NewRecorder()
		// Nobody else is in flight: the request's goroutine waits in the
		// worker's socket, and its context must get it out.
		c.ServeHTTP(w, httptest.NewRequest("GET", "/sleep?s=2", nil).WithContext(ctx))
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("ServeHTTP returned %v after the client left, want at once", d)
		}
		// The worker finishes the sleep, then serves again.
		w = httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest("GET", "/hello", nil))
		if w.Code != 200 || w.Body.String() != "Hello, world!\n" {
			t.Errorf("after the cancelled request: %d %q", w.Code, w.Body)
		}
	})
	for _, threads := range []int{1, 4} {
		t.Run("mixed load, threads "+strconv.Itoa(threads), func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "apps:dispatch", Workers: 2, Threads: threads, Prefetch: 2})
			var wg sync.WaitGroup
			for g := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						n := g*100 + i
						var path, want string
						switch n % 4 {
						case 0: // a whole response
							want = strconv.Itoa(n)
							path = "/length?how=list&body=" + want
						case 1: // streamed, several parts
							path, want = "/sse?n=3&gap=0", "data: 0\n\ndata: 1\n\ndata: 2\n\n"
						case 2: // a client that leaves mid-response
							ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
							w := httptest.NewRecorder()
							c.ServeHTTP(w, httptest.NewRequest("GET", "/sleep?s=0.02", nil).WithContext(ctx))
							cancel()
							continue
						case 3: // Content-Length reached before END (Complete)
							want = strings.Repeat("ab", 40) + strconv.Itoa(n)
							path = "/length?how=gen&cl=" + strconv.Itoa(len(want)) + "&body=" + want
						}
						w := httptest.NewRecorder()
						c.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
						if w.Code != 200 || w.Body.String() != want {
							t.Errorf("GET %s: %d %q, want 200 %q", path, w.Code, w.Body, want)
							return
						}
					}
				}()
			}
			wg.Wait()
			pl := poolOf(c)
			// Idle: no request in flight, and nobody holding the read token
			// for one; the reader goroutine may hold it to wait in the idle
			// worker's socket (idleRead, idleReadAfter after the last
			// response), which is how a worker that went idle is read.
			waitFor(t, 5*time.Second, "every slot free and nobody reading for a request", func() bool {
				pl.mu.Lock()
				defer pl.mu.Unlock()
				for _, p := range pl.list {
					p.mu.Lock()
					busy := p.inflight > 0 || len(p.streams) > 0 || p.reading && !p.idleReading || p.following > 0 || p.leader != nil
					p.mu.Unlock()
					if busy {
						return false
					}
				}
				return true
			})
			if pids := pl.pids(); len(pids) != 2 || slices.Contains(pids, 0) {
				t.Errorf("workers after the load: %v", pids)
			}
		})
	}
}
