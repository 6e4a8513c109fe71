package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
)

// TestShadowLimits checks the body cap and the concurrency limit, with a
// scripted fallback (the Python side does not matter here).
func TestShadowLimits(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	r := router.New()
	r.Get("/slow", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	})
	r.Post("/upload", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	m, err := New(r, Options{
		Registerer: prometheus.NewRegistry(), Logger: discardLogger(),
		MaxConcurrent: 1, MaxBodyBytes: 10, NoiseSample: -1,
		Routes: []RouteConfig{
			{Route: "GET /slow", Stage: StageShadow},
			{Route: "POST /upload", Stage: StageShadow, ShadowUnsafe: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, path, body string) string {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec.Body.String()
	}

	t.Run("a body within the cap is given to both sides", func(t *testing.T) {
		if got := serve("POST", "/upload", "0123456789"); got != "0123456789" {
			t.Fatalf("client got %q", got)
		}
		m.jobs.Wait()
		if st, _ := m.Route("POST /upload"); st.Counts.Matched != 1 {
			t.Fatalf("counts %+v %v", st.Counts, st.RecentMismatches)
		}
	})
	t.Run("a bigger body is not shadowed and reaches Python whole", func(t *testing.T) {
		if got := serve("POST", "/upload", "0123456789abc"); got != "0123456789abc" {
			t.Fatalf("client got %q", got)
		}
		// Without a Content-Length (chunked), the cap is found by reading.
		req := httptest.NewRequest("POST", "/upload", strings.NewReader("0123456789abcdef"))
		req.ContentLength = -1
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if got := rec.Body.String(); got != "0123456789abcdef" {
			t.Fatalf("client got %q", got)
		}
		m.jobs.Wait()
		if st, _ := m.Route("POST /upload"); st.Counts.Skipped != 2 || st.Counts.Compared != 1 {
			t.Fatalf("counts %+v", st.Counts)
		}
	})
	t.Run("beyond MaxConcurrent, requests are not shadowed and are counted as dropped", func(t *testing.T) {
		serve("GET", "/slow", "")
		<-started // the one slot is taken by the stuck candidate
		serve("GET", "/slow", "")
		serve("GET", "/slow", "")
		st, _ := m.Route("GET /slow")
		if st.Counts.Dropped != 2 || st.Counts.Python != 3 {
			t.Fatalf("counts %+v", st.Counts)
		}
		close(release)
		m.jobs.Wait()
		if len(started) != 0 {
			t.Fatalf("a dropped request ran the candidate")
		}
	})
}

// TestOverdueRuns checks that a shadow run past its timeout, which keeps
// its slot until its handler returns, is shown as such (route status and
// gauge) while it holds the slot, and logged when it returns.
func TestOverdueRuns(t *testing.T) {
	release := make(chan struct{})
	py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
	e := newEnv(t, py, Options{Timeout: 20 * time.Millisecond, MaxConcurrent: 1, NoiseSample: -1, Routes: []RouteConfig{
		{Route: "GET /hang", Stage: StageShadow},
		{Route: "GET /other", Stage: StageShadow},
	}}, func(r *router.Router) {
		r.Get("/hang", func(w http.ResponseWriter, r *http.Request) { <-release })
		r.Get("/other", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the Migrator's Shutdown, which waits for the run
	overdue := func() (int64, float64) {
		return e.status(t, "GET /hang").OverdueRuns, e.metric(t, "graft_migrate_shadow_overdue", "route", "GET /hang")
	}
	e.get(t, "/hang")
	eventually(t, "the timeout", func() bool { return e.status(t, "GET /hang").Counts.CandidateTimeouts == 1 })
	for _, tc := range []struct {
		name    string
		release bool
		overdue int64
		dropped int64 // of GET /other
	}{
		{"past its timeout, the run holds the only slot", false, 1, 1},
		{"once the handler returns, the slot is free", true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.release {
				free()
				e.settle()
			}
			if n, g := overdue(); n != tc.overdue || g != float64(tc.overdue) {
				t.Errorf("overdue_runs %d, gauge %v; want %d", n, g, tc.overdue)
			}
			before := e.status(t, "GET /other").Counts
			e.get(t, "/other")
			if tc.release { // else nothing to wait for, but the stuck run
				e.settle()
			}
			after := e.status(t, "GET /other").Counts
			if d := after.Dropped - before.Dropped; d != tc.dropped {
				t.Errorf("GET /other dropped +%d, want +%d", d, tc.dropped)
			}
		})
	}
	if !strings.Contains(e.logs.String(), `level=WARN msg="migrate: shadow run returned after its timeout`) ||
		!strings.Contains(e.logs.String(), `graft.route="GET /hang" graft.side=go`) {
		t.Errorf("no WARN for the overdue run:\n%s", e.logs)
	}
}

// TestMismatchBounded checks that a recorded mismatch takes bounded
// memory whatever the request and the responses hold: huge header values,
// thousands of headers, a huge request target; and that the console says
// what was left out.
func TestMismatchBounded(t *testing.T) {
	many := func(h http.Header, prefix string) {
		for i := range 3000 {
			h.Add(fmt.Sprintf("%s-%04d", prefix, i), strings.Repeat("v", 100))
		}
	}
	r, m, _ := pair(t,
		func(w http.ResponseWriter, r *http.Request) {
			many(w.Header(), "X-Go")
			w.Header().Set("X-Big", strings.Repeat("g", 1<<20))
			io.WriteString(w, "go")
		},
		func(w http.ResponseWriter, r *http.Request) {
			many(w.Header(), "X-Py")
			io.WriteString(w, "python")
		},
		Options{NoiseSample: -1}, RouteConfig{Route: "GET /x", Stage: StageShadow})
	const n = 5
	for range n {
		req := httptest.NewRequest(http.MethodGet, "/x?q="+strings.Repeat("u", 1<<20), nil)
		req.Header.Set("X-Huge", strings.Repeat("h", 1<<20))
		many(req.Header, "X-Req")
		r.ServeHTTP(httptest.NewRecorder(), req)
		m.jobs.Wait()
	}
	st, _ := m.Route("GET /x")
	if len(st.RecentMismatches) != n {
		t.Fatalf("%d mismatches recorded, want %d", len(st.RecentMismatches), n)
	}
	for _, mm := range st.RecentMismatches {
		b, _ := json.Marshal(mm)
		if len(b) > 100<<10 {
			t.Fatalf("one recorded mismatch is %d bytes of JSON, want at most 100 KiB (request line %d bytes, %d request headers)",
				len(b), len(mm.Request), len(mm.RequestHeader))
		}
		if mm.RequestHeaderOmitted == 0 || mm.Python.HeaderOmitted == 0 || mm.Go.HeaderOmitted == 0 {
			t.Errorf("omitted: request %d, python %d, go %d; want all > 0", mm.RequestHeaderOmitted, mm.Python.HeaderOmitted, mm.Go.HeaderOmitted)
		}
		if !strings.Contains(mm.Request, "bytes) HTTP/1.1") {
			t.Errorf("request line not cut: %.100s…", mm.Request)
		}
	}
	page := serve(m.Console(ConsoleOptions{}), http.MethodGet, "127.0.0.1", "/", "", "")
	if !strings.Contains(page.Body.String(), "more header values not kept)") {
		t.Errorf("the console does not say that headers were left out")
	}
}
