package wsgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSuperviseStress reloads, recycles (max-requests), kills workers and
// shuts down, all at once and under load. Run with -race: the pool's
// generation handling must not race, nothing may start a process after
// Shutdown (a send on the closed spawner panicked the Go process), and no
// worker may outlive Shutdown.
func TestSuperviseStress(t *testing.T) {
	for _, preload := range []bool{true, false} {
		t.Run(fmt.Sprint("preload=", preload), func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "apps:hello", Workers: 2, Threads: 2,
				MaxRequests: 3, MaxRequestsJitter: 2, NoPreload: !preload})
			srv := newServer(t, c)
			client := &http.Client{Timeout: 30 * time.Second}

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			pids := map[int]bool{}
			var failures []string
			note := func(format string, args ...any) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			loop := func(fn func()) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						fn()
					}
				}()
			}
			for range 4 {
				loop(func() {
					resp, err := client.Get(srv.URL + "/")
					if err != nil {
						note("GET: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				})
			}
			loop(func() {
				err := c.Reload(context.Background())
				if err != nil && !errors.Is(err, ErrClosed) {
					note("Reload: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			})
			loop(func() {
				// Kill a worker now and then: its replacement races with the
				// rest.
				st := c.Status()
				mu.Lock()
				for _, w := range st.Workers {
					pids[w.PID] = true
				}
				mu.Unlock()
				if len(st.Workers) > 0 {
					syscall.Kill(st.Workers[0].PID, syscall.SIGKILL)
				}
				time.Sleep(150 * time.Millisecond)
			})

			time.Sleep(2 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := c.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			cancel()
			time.Sleep(300 * time.Millisecond) // the load goes on against a closed container
			close(stop)
			wg.Wait()

			mu.Lock()
			defer mu.Unlock()
			for _, f := range failures {
				t.Error(f)
			}
			for code, n := range statuses {
				switch code {
				case 200, 503: // served, or shut down
				case 502: // in flight on a worker this test killed
				default:
					t.Errorf("%d responses with status %d", n, code)
				}
			}
			if statuses[200] == 0 || statuses[503] == 0 {
				t.Errorf("statuses %v: want both served and shut-down requests", statuses)
			}
			for pid := range pids {
				waitFor(t, 5*time.Second, fmt.Sprintf("worker %d to be gone after Shutdown", pid), func() bool {
					var ws syscall.WaitStatus
					syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
					return !pidAlive(pid)
				})
			}
			if t.Failed() {
				t.Logf("statuses %v", statuses)
			}
			_ = logs
		})
	}
}
