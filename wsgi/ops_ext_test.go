package wsgi_test

// The metrics operations test. It lives in the external test package
// because it puts middleware.Metrics (package middleware imports wsgi) in
// front of the container.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/wsgi"
)

// opsMetric is one sample: labels and value.
type opsMetric struct {
	labels map[string]string
	value  float64
}

// gatherOps gathers reg and returns the samples of the metric family name.
func gatherOps(t testing.TB, reg *prometheus.Registry, name string) []opsMetric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var out []opsMetric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			om := opsMetric{labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				om.labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				om.value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				om.value = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				om.value = float64(m.GetHistogram().GetSampleCount())
			}
			out = append(out, om)
		}
	}
	return out
}

// opsValue returns the value of the sample of name whose labels include
// want (kv pairs), and whether there is one.
func opsValue(t testing.TB, reg *prometheus.Registry, name string, want ...string) (float64, bool) {
	t.Helper()
	for _, m := range gatherOps(t, reg, name) {
		match := true
		for i := 0; i+1 < len(want); i += 2 {
			if m.labels[want[i]] != want[i+1] {
				match = false
			}
		}
		if match {
			return m.value, true
		}
	}
	return 0, false
}

func opsWaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func opsGet(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: status %d %q", url, resp.StatusCode, b)
	}
	return nil
}

func TestOpsMetrics(t *testing.T) {
	for _, noPreload := range []bool{false, true} {
		name := "preload"
		if noPreload {
			name = "nopreload"
		}
		t.Run(name, func(t *testing.T) { testOpsMetrics(t, noPreload) })
	}
}

func testOpsMetrics(t *testing.T, noPreload bool) {
	py := pythontest.Python(t)
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	c, err := wsgi.New(wsgi.Config{App: "opsapp:app", Python: py, Dir: dir, Workers: 1, NoPreload: noPreload,
		MaxRequests: 5, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Shutdown(ctx)
		if t.Failed() {
			t.Logf("container log:\n%s", logs)
		}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(middleware.Metrics(reg)(c))
	defer srv.Close()

	// Every family is there before any request (restart reasons included,
	// so that rates work from the start).
	for _, reason := range []string{"crash", "timeout", "max-requests", "max-rss", "lifetime", "reload"} {
		if v, ok := opsValue(t, reg, "graft_wsgi_worker_restarts_total", "reason", reason); !ok || v != 0 {
			t.Errorf("graft_wsgi_worker_restarts_total{reason=%q} = %v (present %v) at start; want 0", reason, v, ok)
		}
	}
	if v, ok := opsValue(t, reg, "graft_wsgi_ready"); !ok || v != 1 {
		t.Errorf("graft_wsgi_ready = %v (present %v); want 1", v, ok)
	}
	if v, ok := opsValue(t, reg, "graft_wsgi_workers", "state", "idle"); !ok || v != 1 {
		t.Errorf(`graft_wsgi_workers{state="idle"} = %v (present %v); want 1`, v, ok)
	}

	// Requests are counted; MaxRequests 5 recycles the worker.
	const n = 12
	for range n {
		if err := opsGet(srv.URL + "/pid"); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := opsValue(t, reg, "graft_http_requests_total", "target", "wsgi", "status", "200"); v != n {
		t.Errorf(`graft_http_requests_total{target="wsgi",status="200"} = %v; want %d`, v, n)
	}
	if v, _ := opsValue(t, reg, "graft_http_request_duration_seconds", "target", "wsgi"); v != n {
		t.Errorf(`graft_http_request_duration_seconds{target="wsgi"} has %v samples; want %d`, v, n)
	}
	if v, _ := opsValue(t, reg, "graft_wsgi_queue_wait_seconds"); v < n {
		t.Errorf("graft_wsgi_queue_wait_seconds has %v samples; want >= %d", v, n)
	}
	// (The worker serves on past its 5 until its replacement is ready,
	// so 12 quick requests make at least one recycling, maybe two.)
	opsWaitFor(t, 5*time.Second, "graft_wsgi_worker_restarts_total{reason=max-requests} >= 1", func() bool {
		v, _ := opsValue(t, reg, "graft_wsgi_worker_restarts_total", "reason", "max-requests")
		return v >= 1
	})
	if v, _ := opsValue(t, reg, "graft_wsgi_worker_restarts_total", "reason", "max-requests"); int64(v) != c.Status().Restarts["max-requests"] {
		t.Errorf("graft_wsgi_worker_restarts_total{reason=max-requests} = %v; Status().Restarts says %d", v, c.Status().Restarts["max-requests"])
	}

	// Per-worker RSS and served counts, labelled by worker index.
	// Settled means one worker that is below its budget: a worker at its
	// 5 requests is recycled asynchronously and would turn "draining"
	// while serving the slow request below.
	opsWaitFor(t, 5*time.Second, "one fresh worker again after recycling", func() bool {
		ws := c.Status().Workers
		return len(ws) == 1 && ws[0].Served < 5
	})
	st := c.Status()
	for _, w := range st.Workers {
		index := strconv.Itoa(w.Index)
		if v, ok := opsValue(t, reg, "graft_wsgi_worker_rss_bytes", "index", index); !ok || v <= 0 {
			t.Errorf(`graft_wsgi_worker_rss_bytes{index=%q} = %v (present %v); want > 0`, index, v, ok)
		}
		if _, ok := opsValue(t, reg, "graft_wsgi_worker_requests_total", "index", index); !ok {
			t.Errorf(`graft_wsgi_worker_requests_total{index=%q} missing`, index)
		}
	}
	if rss := gatherOps(t, reg, "graft_wsgi_worker_rss_bytes"); len(rss) != len(st.Workers) {
		t.Errorf("graft_wsgi_worker_rss_bytes has %d series; want one per worker (%d): %+v", len(rss), len(st.Workers), rss)
	}

	// A slow request makes the worker busy; requests behind it queue.
	errc := make(chan error, 4)
	go func() { errc <- opsGet(srv.URL + "/sleep?s=2") }()
	opsWaitFor(t, 5*time.Second, `graft_wsgi_workers{state="busy"} >= 1`, func() bool {
		v, _ := opsValue(t, reg, "graft_wsgi_workers", "state", "busy")
		return v >= 1
	})
	if v, _ := opsValue(t, reg, "graft_wsgi_requests_in_flight"); v != 1 {
		t.Errorf("graft_wsgi_requests_in_flight = %v during the slow request; want 1", v)
	}
	time.Sleep(200 * time.Millisecond) // the slow request is no longer young: nothing is prefetched behind it
	for range 3 {
		go func() { errc <- opsGet(srv.URL + "/pid") }()
	}
	opsWaitFor(t, 3*time.Second, "graft_wsgi_queue_depth > 0", func() bool {
		v, _ := opsValue(t, reg, "graft_wsgi_queue_depth")
		return v > 0
	})
	for range 4 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	if v, _ := opsValue(t, reg, "graft_wsgi_queue_depth"); v != 0 {
		t.Errorf("graft_wsgi_queue_depth = %v once every request is done; want 0", v)
	}
	if v, _ := opsValue(t, reg, "graft_http_requests_total", "target", "wsgi", "status", "200"); v != n+4 {
		t.Errorf(`graft_http_requests_total{target="wsgi",status="200"} = %v; want %d`, v, n+4)
	}
	// The queue wait histogram saw at least one wait of 1s or more.
	var slowWaits uint64
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "graft_wsgi_queue_wait_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		var under1s uint64
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == 0.5 {
				under1s = b.GetCumulativeCount()
			}
		}
		slowWaits = h.GetSampleCount() - under1s
	}
	if slowWaits == 0 {
		t.Error("graft_wsgi_queue_wait_seconds saw no wait over 0.5s; requests queued behind a 2s one")
	}

	// After Shutdown: not ready, and a scrape still works.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if v, ok := opsValue(t, reg, "graft_wsgi_ready"); !ok || v != 0 {
		t.Errorf("graft_wsgi_ready = %v (present %v) after Shutdown; want 0", v, ok)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}

// Recycling adds no series: the per-worker metrics are labelled by a
// worker index that replacements reuse, not by pid, which made every
// recycled worker (MaxRequests) a new series for as long as graft ran.
// Two workers recycled after every 2 requests, one recycle at a time: the
// per-worker series use 3 label sets (2 workers, and the replacement's
// while the worker it replaces drains), whatever the number of
// recycles; /status keeps the pids.
func TestOpsWorkerIndexLabel(t *testing.T) {
	py := pythontest.Python(t)
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	c, err := wsgi.New(wsgi.Config{App: "opsapp:app", Python: py, Dir: dir, Workers: 2, MaxRequests: 2,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Shutdown(ctx)
		if t.Failed() {
			t.Logf("container log:\n%s", logs)
		}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(c)
	defer srv.Close()

	labelSets := map[string]bool{}
	pids := map[int]bool{}
	settled := func() bool {
		ws := c.Status().Workers
		if len(ws) != 2 {
			return false
		}
		for _, w := range ws {
			if w.State == "draining" {
				return false
			}
		}
		return true
	}
	const recycles = 6
	for c.Status().Restarts["max-requests"] < recycles {
		if err := opsGet(srv.URL + "/pid"); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"graft_wsgi_worker_requests_total", "graft_wsgi_worker_rss_bytes"} {
			for _, m := range gatherOps(t, reg, name) {
				labelSets[fmt.Sprint(m.labels)] = true
			}
		}
		for _, w := range c.Status().Workers {
			pids[w.PID] = true
		}
		opsWaitFor(t, 30*time.Second, "2 workers, none draining", settled)
		for _, w := range c.Status().Workers {
			pids[w.PID] = true // the replacement of the last recycle
		}
	}
	if len(pids) < recycles+2 {
		t.Fatalf("saw %d worker pids in %d recycles; want at least %d", len(pids), recycles, recycles+2)
	}
	if len(labelSets) > 3 {
		t.Errorf("the per-worker series used %d label sets over %d workers' lives; want at most 3: %v", len(labelSets), len(pids), labelSets)
	}
	for ls := range labelSets {
		if !strings.HasPrefix(ls, "map[index:") {
			t.Errorf("per-worker series labelled %s; want only index", ls)
		}
	}
}
