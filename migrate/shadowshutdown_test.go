package migrate

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// TestShutdownWaitsForAdmittedShadow: a request that found the Migrator
// open just before Shutdown closed it either has its shadow run counted
// before Shutdown waits for the runs in flight, or starts none. It could
// pass the closed check, then Shutdown found no run in flight and
// returned, then the request started its shadow run: the Go candidate
// ran after Shutdown had returned. The passedClosed hook holds the
// request between the two until Shutdown has returned.
func TestShutdownWaitsForAdmittedShadow(t *testing.T) {
	var candidate, afterShutdown atomic.Int64
	var shutDown atomic.Bool
	fb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("python")) })
	e := newEnv(t, fb, Options{}, func(r *router.Router) {
		r.Get("/x", func(w http.ResponseWriter, r *http.Request) {
			candidate.Add(1)
			if shutDown.Load() {
				afterShutdown.Add(1)
			}
			w.Write([]byte("python"))
		})
	})
	if _, err := e.m.SetRoute("test", RouteConfig{Route: "GET /x", Stage: StageShadow}); err != nil {
		t.Fatal(err)
	}
	// A first request shows the candidate runs while the Migrator is open.
	if code, body := e.get(t, "/x"); code != 200 || body != "python" {
		t.Fatalf("got %d %q", code, body)
	}
	e.settle()
	if candidate.Load() != 1 {
		t.Fatalf("the candidate ran %d times for one shadowed request; want 1", candidate.Load())
	}
	admitted, proceed := make(chan struct{}), make(chan struct{})
	e.m.passedClosed = func() {
		close(admitted)
		<-proceed
	}
	served := make(chan string, 1)
	go func() {
		_, body := e.get(t, "/x")
		served <- body
	}()
	<-admitted
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	shutDown.Store(true)
	close(proceed)
	if body := <-served; body != "python" {
		t.Errorf("the request got %q; want the primary's answer", body)
	}
	// A second Shutdown waits for whatever run the request started.
	if err := e.m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := afterShutdown.Load(); n != 0 {
		t.Errorf("the candidate ran %d times after Shutdown returned; want 0", n)
	}
}

// TestReverseShadowAfterContainerStopped: wsgi.Serve stops the container
// when the HTTP server has drained, before the program's deferred
// Migrator.Shutdown runs; reverse-shadow runs (Go served, Python the
// shadow) still under way then are refused by the stopped container with
// a 503 without running the app. Such a run is not a comparison: it was
// counted as a mismatch against Go's 200 and, in the rollback window,
// rolled the route back (written to the stages file, it outlasts the
// restart). It is now counted as skipped.
func TestReverseShadowAfterContainerStopped(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{MaxConcurrent: 100, NoiseSample: -1, Rollback: RollbackPolicy{MinRequests: 2},
		Routes: []RouteConfig{{Route: "GET /api/slow", Stage: StageGo, ShadowSample: 1}}}, func(r *router.Router) {
		r.Get("/api/slow", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "python\n")
		})
	})
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := e.get(t, "/api/slow?s=0.05"); code != 200 || body != "python\n" {
				t.Errorf("Go answered %d %q", code, body)
			}
		}()
	}
	wg.Wait()
	// Two workers, 0.05 s a run: most of the 20 runs are queued when the
	// container stops, as in wsgi.Serve's shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := py.Shutdown(ctx); err != nil {
		t.Fatalf("container Shutdown: %v", err)
	}
	if err := e.m.Shutdown(ctx); err != nil {
		t.Fatalf("Migrator Shutdown: %v", err)
	}
	st := e.status(t, "GET /api/slow")
	c := st.Counts
	if c.Mismatched != 0 || st.Rollback != nil {
		t.Fatalf("runs the stopped container refused were compared: counts %+v, rollback %+v, mismatches %+v", c, st.Rollback, st.RecentMismatches)
	}
	if c.Compared+c.Skipped != n || c.Skipped == 0 {
		t.Fatalf("counts %+v: want %d compared or skipped, some skipped", c, n)
	}
}

// TestShadowPrimaryRefused: in the shadow stage Python serves the client;
// when its container refuses the request without running the app (here
// its queue is full; also once it is shut down), the client gets the
// 503, but there is no answer of the app to compare Go's with: it was
// counted as a mismatch (status 503 against 200). It is now skipped.
func TestShadowPrimaryRefused(t *testing.T) {
	pythontest.Python(t, "flask")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	py, err := wsgi.New(wsgi.Config{App: "flaskmig:app", Python: pythontest.Python(t), Dir: dir, Workers: 1, Threads: 1,
		MaxQueue: -1, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { py.Shutdown(context.Background()) })
	e := newEnv(t, py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: "GET /api/slow", Stage: StageShadow}}}, func(r *router.Router) {
		r.Get("/api/slow", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "python\n")
		})
	})
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		if code, _ := e.get(t, "/api/slow?s=1"); code != 200 {
			t.Errorf("the first request: %d", code)
		}
	}()
	// The worker's one thread is taken by the first request; none may wait.
	var code int
	for deadline := time.Now().Add(5 * time.Second); code != http.StatusServiceUnavailable && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		code, _ = e.get(t, "/api/slow?s=0")
	}
	if code != http.StatusServiceUnavailable {
		t.Fatal("no request was refused while the only worker thread was busy")
	}
	<-busy
	e.m.Shutdown(context.Background())
	st := e.status(t, "GET /api/slow")
	if c := st.Counts; c.Mismatched != 0 || c.Skipped == 0 {
		t.Fatalf("a refused primary was compared: counts %+v, mismatches %+v", c, st.RecentMismatches)
	}
}

// TestShadowRefusedCustomStatus: a container whose Config.ErrorHandler
// answers a refusal (here: it is shut down) with a status other than 503
// still refused the run without running the app. The run was recognised
// as refused by its 503 only, so with a 429 or a 502 it was compared with
// Go's answer and counted as a mismatch (and, Go serving, in the rollback
// window). It is now skipped, whatever the status: the container marks
// the refusal in the request's wsgi.Trace.
func TestShadowRefusedCustomStatus(t *testing.T) {
	pythontest.Python(t, "flask")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		stage  Stage // shadow: Python serves, refused; go: Go serves, Python's run refused
		status int
	}{
		{"Python serves, refused with 429", StageShadow, http.StatusTooManyRequests},
		{"Python's shadow run refused with 502", StageGo, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			py, err := wsgi.New(wsgi.Config{App: "flaskmig:app", Python: pythontest.Python(t), Dir: dir, Workers: 1,
				Logger: discardLogger(),
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					http.Error(w, "not now", tc.status)
				}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := py.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, py, Options{NoiseSample: -1, Rollback: RollbackPolicy{MinRequests: 2},
				Routes: []RouteConfig{{Route: "GET /api/side", Stage: tc.stage, ShadowSample: 1}}}, func(r *router.Router) {
				r.Get("/api/side", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					io.WriteString(w, "python\n")
				})
			})
			want := tc.status // the client gets Python's refusal
			if tc.stage == StageGo {
				want = http.StatusOK
			}
			const n = 3
			for range n {
				if code, _ := e.get(t, "/api/side"); code != want {
					t.Fatalf("status %d, want %d", code, want)
				}
			}
			e.settle()
			st := e.status(t, "GET /api/side")
			if c := st.Counts; c.Mismatched != 0 || c.Skipped != n || st.Rollback != nil {
				t.Fatalf("refused runs were compared: counts %+v, rollback %+v, mismatches %+v", c, st.Rollback, st.RecentMismatches)
			}
			// Refused counts the clients' requests Python's container
			// refused, not the shadow runs it refused (those are skipped).
			wantRefused := int64(0)
			if tc.stage == StageShadow {
				wantRefused = n
			}
			if c := st.Counts; c.Refused != wantRefused {
				t.Fatalf("counts %+v: want %d refused", c, wantRefused)
			}
		})
	}
}
