package wsgi

// Operations tests: every feature of the operations issue (recycling,
// reloads, status page, probes, slow-request log, autoreload) exercised
// under load, counting the requests that fail. A failure is any transport
// error or non-2xx answer. The test app is testdata/opsapp.py, which
// answers "VERSION PID".
//
// The metrics test, which needs the middleware package (it imports wsgi),
// is in ops_ext_test.go; the process-level tests (SIGTERM drain, no
// orphans after kill -9) are in examples/wsgiserve/main_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// preloadVariants runs fn with the preload zygote (the default) and with
// NoPreload.
func preloadVariants(t *testing.T, fn func(t *testing.T, noPreload bool)) {
	t.Helper()
	for _, v := range []struct {
		name      string
		noPreload bool
	}{{"preload", false}, {"nopreload", true}} {
		t.Run(v.name, func(t *testing.T) { fn(t, v.noPreload) })
	}
}

// opsAnswer is one successful answer seen by the load generator.
type opsAnswer struct {
	start   time.Time // when the request was sent
	version string
	pid     int
}

// loadGen runs n goroutines doing GET url in a loop until stop, counting
// failures and recording who answered.
type loadGen struct {
	t       testing.TB
	url     string
	client  *http.Client
	stopped chan struct{}
	wg      sync.WaitGroup

	mu       sync.Mutex
	answers  []opsAnswer
	failures []string // the first few
	failed   int
}

func startLoad(t testing.TB, url string, n int) *loadGen {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxIdleConns: n}
	lg := &loadGen{t: t, url: url, stopped: make(chan struct{}),
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
	for range n {
		lg.wg.Add(1)
		go lg.run()
	}
	t.Cleanup(func() { lg.stop() })
	return lg
}

func (lg *loadGen) run() {
	defer lg.wg.Done()
	for {
		select {
		case <-lg.stopped:
			return
		default:
		}
		start := time.Now()
		version, pid, err := getAnswer(lg.client, lg.url)
		lg.mu.Lock()
		if err != nil {
			lg.failed++
			if len(lg.failures) < 5 {
				lg.failures = append(lg.failures, fmt.Sprintf("%s: %v", start.Format("15:04:05.000"), err))
			}
		} else {
			lg.answers = append(lg.answers, opsAnswer{start: start, version: version, pid: pid})
		}
		lg.mu.Unlock()
	}
}

// stop stops the load and waits for the requests in flight.
func (lg *loadGen) stop() {
	select {
	case <-lg.stopped:
		return
	default:
	}
	close(lg.stopped)
	lg.wg.Wait()
	lg.client.CloseIdleConnections()
}

// snapshot returns the answers so far.
func (lg *loadGen) snapshot() []opsAnswer {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return append([]opsAnswer(nil), lg.answers...)
}

// checkNoFailures stops the load and fails the test if any request failed
// or if too few succeeded.
func (lg *loadGen) checkNoFailures(t testing.TB, minOK int) []opsAnswer {
	t.Helper()
	lg.stop()
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.failed > 0 {
		t.Errorf("%d of %d requests failed under load; first failures:\n%s",
			lg.failed, lg.failed+len(lg.answers), strings.Join(lg.failures, "\n"))
	}
	if len(lg.answers) < minOK {
		t.Errorf("only %d requests succeeded under load; want at least %d", len(lg.answers), minOK)
	}
	t.Logf("load: %d ok, %d failed", len(lg.answers), lg.failed)
	return append([]opsAnswer(nil), lg.answers...)
}

// getAnswer does GET url and parses the app's "VERSION PID" answer.
func getAnswer(client *http.Client, url string) (string, int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", 0, fmt.Errorf("status %d, reading body: %v", resp.StatusCode, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", 0, fmt.Errorf("status %d: %q", resp.StatusCode, b)
	}
	var version string
	var pid int
	if _, err := fmt.Sscan(string(b), &version, &pid); err != nil {
		return "", 0, fmt.Errorf("bad answer %q: %v", b, err)
	}
	return version, pid, nil
}

// mustAnswer is getAnswer with success required.
func mustAnswer(t testing.TB, url string) (string, int) {
	t.Helper()
	v, pid, err := getAnswer(http.DefaultClient, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return v, pid
}

func pidSet(answers []opsAnswer) map[int]bool {
	s := map[int]bool{}
	for _, a := range answers {
		s[a.pid] = true
	}
	return s
}

func workerPIDs(st Status) map[int]bool {
	s := map[int]bool{}
	for _, w := range st.Workers {
		s[w.PID] = true
	}
	return s
}

// copyOpsApp copies testdata/opsapp.py into a fresh directory and returns
// it. The copy's modification time is set an hour back, like a checkout
// made earlier, so that an edit always changes its mtime in whole seconds
// (the unit of CPython's .pyc check).
func copyOpsApp(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir(t), "opsapp.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "opsapp.py")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(f, old, old); err != nil {
		t.Fatal(err)
	}
	return dir
}

// editOpsApp rewrites dir/opsapp.py through edit.
func editOpsApp(t testing.TB, dir string, edit func(string) string) {
	t.Helper()
	f := filepath.Join(dir, "opsapp.py")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	s := edit(string(b))
	if s == string(b) {
		t.Fatal("editOpsApp: the edit changed nothing")
	}
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func setVersion(v string) func(string) string {
	return func(s string) string { return strings.Replace(s, `VERSION = "v1"`, `VERSION = "`+v+`"`, 1) }
}

func TestOpsRecycleMaxRequests(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		c, _ := newContainer(t, Config{App: "opsapp:app", Workers: 2, NoPreload: noPreload,
			MaxRequests: 10, MaxRequestsJitter: 5})
		srv := newServer(t, c)
		lg := startLoad(t, srv.URL+"/pid", 4)
		// 2 workers, each recycled after 10..15 requests: the pids must
		// keep changing. (A worker keeps serving past its budget until its
		// replacement is ready, so there are fewer than len(answers)/15;
		// on a loaded machine a worker without preload takes a second or
		// more to import, hence a wait for the pids rather than a fixed
		// time.)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if a := lg.snapshot(); len(a) >= 100 && len(pidSet(a)) >= 6 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		answers := lg.checkNoFailures(t, 100)
		pids := pidSet(answers)
		if len(pids) < 6 {
			t.Errorf("%d requests were answered by %d distinct pids; want at least 6", len(answers), len(pids))
		}
		st := c.Status()
		if st.Restarts["max-requests"] == 0 {
			t.Errorf("Restarts = %v; want max-requests > 0", st.Restarts)
		}
		for reason, n := range st.Restarts {
			if reason != "max-requests" && n > 0 {
				t.Errorf("Restarts = %v; want only max-requests", st.Restarts)
			}
		}
		// Recycling converges back to 2 workers, none over its budget
		// (MaxRequests 10 + jitter 5) once the load stops.
		waitFor(t, 5*time.Second, "2 workers within their request budget after recycling", func() bool {
			st := c.Status()
			if len(st.Workers) != 2 {
				return false
			}
			for _, w := range st.Workers {
				if w.State == "draining" || w.Served > 15 {
					return false
				}
			}
			return true
		})
	})
}

func TestOpsRecycleMaxRSS(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		c, _ := newContainer(t, Config{App: "opsapp:app", Workers: 2, NoPreload: noPreload, MaxRSS: 40 << 20})
		srv := newServer(t, c)
		for _, w := range c.Status().Workers {
			if w.RSS >= 40<<20 {
				t.Fatalf("worker %d starts with RSS %d, over the 40 MiB limit of this test", w.PID, w.RSS)
			}
		}
		lg := startLoad(t, srv.URL+"/pid", 2)
		time.Sleep(300 * time.Millisecond)
		_, fat := mustAnswer(t, srv.URL+"/alloc?mib=50")
		waitFor(t, 5*time.Second, "the worker that allocated 50 MiB to be recycled", func() bool {
			return c.Status().Restarts["max-rss"] >= 1 && !workerPIDs(c.Status())[fat]
		})
		waitFor(t, 5*time.Second, fmt.Sprintf("worker %d to exit", fat), func() bool { return !pidAlive(fat) })
		time.Sleep(300 * time.Millisecond)
		answers := lg.checkNoFailures(t, 20)
		last := answers[len(answers)-1]
		if last.pid == fat {
			t.Errorf("the recycled worker %d still answered the last request", fat)
		}
		st := c.Status()
		if st.Restarts["max-rss"] != 1 {
			t.Errorf("Restarts = %v; want max-rss 1 (only one request allocated)", st.Restarts)
		}
		if len(st.Workers) != 2 {
			t.Errorf("%d workers after recycling; want 2", len(st.Workers))
		}
	})
}

func TestOpsRecycleMaxLifetime(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		c, _ := newContainer(t, Config{App: "opsapp:app", Workers: 2, NoPreload: noPreload, MaxLifetime: time.Second})
		srv := newServer(t, c)
		first := workerPIDs(c.Status())
		lg := startLoad(t, srv.URL+"/pid", 4)
		waitFor(t, 4*time.Second, "every first worker to be recycled (lifetime 1s)", func() bool {
			for pid := range workerPIDs(c.Status()) {
				if first[pid] {
					return false
				}
			}
			return true
		})
		time.Sleep(300 * time.Millisecond)
		answers := lg.checkNoFailures(t, 50)
		if pids := pidSet(answers); len(pids) <= len(first) {
			t.Errorf("answers came from pids %v only; want new ones after the first %v", pids, first)
		}
		if st := c.Status(); st.Restarts["lifetime"] == 0 {
			t.Errorf("Restarts = %v; want lifetime > 0", st.Restarts)
		}
		for pid := range first {
			waitFor(t, 5*time.Second, fmt.Sprintf("worker %d to exit", pid), func() bool { return !pidAlive(pid) })
		}
	})
}

func TestOpsReloadUnderLoad(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		dir := copyOpsApp(t)
		c, _ := newContainer(t, Config{App: "opsapp:app", Dir: dir, Workers: 2, NoPreload: noPreload})
		srv := newServer(t, c)
		if v, _ := mustAnswer(t, srv.URL+"/pid"); v != "v1" {
			t.Fatalf("version %q before the reload; want v1", v)
		}
		gen0 := c.Status().Generation
		oldWorkers := workerPIDs(c.Status())
		lg := startLoad(t, srv.URL+"/pid", 4)
		time.Sleep(500 * time.Millisecond)
		editOpsApp(t, dir, setVersion("v2"))
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Reload(ctx); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		reloaded := time.Now()
		time.Sleep(time.Second)
		answers := lg.checkNoFailures(t, 50)

		// The old code's workers: the ones before the reload and any that
		// answered v1.
		before := map[int]bool{}
		var after []opsAnswer
		for _, a := range answers {
			if a.version == "v1" {
				before[a.pid] = true
			} else if a.version != "v2" {
				t.Errorf("answer %q from pid %d; want v1 or v2", a.version, a.pid)
			}
			if !a.start.Before(reloaded) {
				after = append(after, a)
			}
		}
		for _, a := range answers {
			if a.version == "v2" && before[a.pid] {
				t.Errorf("pid %d answered both v1 and v2: a worker was not replaced", a.pid)
				break
			}
		}
		if len(after) == 0 {
			t.Fatal("no request was answered after the reload")
		}
		for pid := range oldWorkers {
			before[pid] = true
		}
		bad := 0
		for _, a := range after {
			if a.version != "v2" || before[a.pid] {
				if bad < 5 {
					t.Errorf("after the reload, a request was answered %q by pid %d (pids before: %v); want v2 from a new worker",
						a.version, a.pid, before)
				}
				bad++
			}
		}
		st := c.Status()
		if st.Generation != gen0+1 {
			t.Errorf("Generation %d after one reload; was %d", st.Generation, gen0)
		}
		if st.Restarts["reload"] != int64(len(oldWorkers)) {
			t.Errorf("Restarts = %v; want reload %d", st.Restarts, len(oldWorkers))
		}
		waitFor(t, 5*time.Second, "the old workers to leave the status", func() bool {
			st := c.Status()
			return len(st.Workers) == 2 && st.Workers[0].Generation == st.Generation && st.Workers[1].Generation == st.Generation
		})
		for pid := range oldWorkers {
			waitFor(t, 5*time.Second, fmt.Sprintf("old worker %d to exit", pid), func() bool { return !pidAlive(pid) })
		}
		if v, _ := mustAnswer(t, srv.URL+"/pid"); v != "v2" {
			t.Errorf("version %q after the reload; want v2", v)
		}
	})
}

func TestOpsReloadBrokenCode(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		dir := copyOpsApp(t)
		c, logs := newContainer(t, Config{App: "opsapp:app", Dir: dir, Workers: 2, NoPreload: noPreload})
		srv := newServer(t, c)
		gen0 := c.Status().Generation
		oldWorkers := workerPIDs(c.Status())
		lg := startLoad(t, srv.URL+"/pid", 4)
		time.Sleep(300 * time.Millisecond)
		editOpsApp(t, dir, func(s string) string {
			return strings.Replace(setVersion("v2")(s), "import os\n", "import os\nraise RuntimeError('broken on purpose')\n", 1)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := c.Reload(ctx)
		var le *LoadError
		if err == nil {
			t.Errorf("Reload of code that raises at import: no error")
		} else if !errors.As(err, &le) {
			t.Errorf("Reload error %T %v; want a *LoadError", err, err)
		} else if !strings.Contains(le.Traceback, "broken on purpose") {
			t.Errorf("LoadError traceback lacks the exception:\n%s", le.Traceback)
		}
		if err != nil && (!strings.HasPrefix(err.Error(), `wsgi: reload: app "opsapp:app" failed to load: `) || strings.Count(err.Error(), "wsgi: ") != 1) {
			t.Errorf("Reload error %q; want it to begin `wsgi: reload: app \"opsapp:app\" failed to load: `, with the package prefix once", err)
		}
		if !c.Ready() {
			t.Error("Ready() false after a failed reload")
		}
		time.Sleep(500 * time.Millisecond)
		if !c.Ready() {
			t.Error("Ready() false after a failed reload")
		}
		answers := lg.checkNoFailures(t, 50)
		for i, a := range answers {
			if a.version != "v1" || !oldWorkers[a.pid] {
				t.Errorf("answer %d: %q from pid %d; want v1 from an old worker %v", i, a.version, a.pid, oldWorkers)
				break
			}
		}
		st := c.Status()
		if st.Generation != gen0 {
			t.Errorf("Generation %d after a failed reload; want %d", st.Generation, gen0)
		}
		if st.Reloading {
			t.Error("Status().Reloading still true after Reload returned")
		}
		// The new generation's workers that failed to load were never in
		// service: their exit is no crash and gets no replacement.
		if st.Restarts["crash"] != 0 {
			t.Errorf("Restarts = %v after a failed reload; want no crash (no serving worker died)", st.Restarts)
		}
		if got := workerPIDs(st); len(got) != len(oldWorkers) {
			t.Errorf("workers %v after a failed reload; want the old ones %v", got, oldWorkers)
		} else {
			for pid := range got {
				if !oldWorkers[pid] {
					t.Errorf("workers %v after a failed reload; want the old ones %v", got, oldWorkers)
				}
			}
		}
		if !strings.Contains(logs.String(), "reload failed") {
			t.Error("the failed reload was not logged")
		}
		// Fixing the code makes the next reload work.
		editOpsApp(t, dir, func(s string) string {
			return strings.Replace(s, "raise RuntimeError('broken on purpose')\n", "", 1)
		})
		if err := c.Reload(ctx); err != nil {
			t.Fatalf("Reload after fixing the code: %v", err)
		}
		if v, _ := mustAnswer(t, srv.URL+"/pid"); v != "v2" {
			t.Errorf("version %q after fixing and reloading; want v2", v)
		}
		// Generations count the ones put into service: the failed reload
		// took no number, so /status shows no gap.
		if st := statusJSON(t, c); st.Generation != gen0+1 {
			t.Errorf("/status generation %d after a failed reload and a good one; want %d", st.Generation, gen0+1)
		} else {
			for _, w := range st.Workers {
				if w.Generation != gen0+1 && !oldWorkers[w.PID] {
					t.Errorf("new worker %d of generation %d; want %d", w.PID, w.Generation, gen0+1)
				}
			}
		}
		if want := fmt.Sprintf("graft.generation=%d", gen0+1); !strings.Contains(logLine(logs, `msg="wsgi: reloaded"`), want) {
			t.Errorf("reloaded line %q; want %s", logLine(logs, `msg="wsgi: reloaded"`), want)
		}
		// Still exactly Workers workers: the failed reload left nothing
		// behind that joins the pool later.
		time.Sleep(time.Second)
		waitFor(t, 5*time.Second, "the old workers to leave", func() bool {
			for _, w := range c.Status().Workers {
				if oldWorkers[w.PID] {
					return false
				}
			}
			return true
		})
		if st := c.Status(); len(st.Workers) != 2 {
			t.Errorf("%d workers after a failed and a good reload; want 2: %+v", len(st.Workers), st.Workers)
		}
	})
}

func TestOpsStatusPage(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		c, _ := newContainer(t, Config{App: "opsapp:app", Workers: 2, NoPreload: noPreload})
		srv := newServer(t, c)
		mux := http.NewServeMux()
		mux.Handle("/status", c.StatusHandler())
		mux.Handle("/readyz", c.ReadyHandler())
		mux.Handle("/healthz", c.LiveHandler())
		ops := httptest.NewServer(mux)
		defer ops.Close()

		const warm = 6
		for range warm {
			mustAnswer(t, srv.URL+"/pid")
		}
		slowDone := make(chan error, 1)
		var slowPID int
		go func() {
			var err error
			_, slowPID, err = getAnswer(http.DefaultClient, srv.URL+"/sleep?s=2")
			slowDone <- err
		}()
		waitFor(t, 5*time.Second, "a busy worker in the status", func() bool {
			for _, w := range c.Status().Workers {
				if w.State == "busy" && len(w.Requests) == 1 && w.Requests[0].Running > 0.1 {
					return true
				}
			}
			return false
		})

		// JSON, by query and by Accept.
		for _, req := range []struct {
			url, accept string
		}{{ops.URL + "/status?format=json", ""}, {ops.URL + "/status", "application/json"}} {
			r, _ := http.NewRequest("GET", req.url, nil)
			if req.accept != "" {
				r.Header.Set("Accept", req.accept)
			}
			resp2, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp2.Body)
			resp2.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if ct := resp2.Header.Get("Content-Type"); resp2.StatusCode != 200 || !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("GET %s (Accept %q): status %d, Content-Type %q", req.url, req.accept, resp2.StatusCode, ct)
			}
			var st Status
			decodeJSON(t, b, &st)
			checkStatusJSON(t, st, b, warm, noPreload)
		}

		// HTML.
		b := mustGet(t, ops.URL+"/status")
		page := string(b)
		for _, w := range c.Status().Workers {
			if !strings.Contains(page, strconv.Itoa(w.PID)) {
				t.Errorf("the HTML status page lacks worker pid %d:\n%s", w.PID, page)
			}
		}
		if !strings.Contains(page, "GET /sleep") {
			t.Errorf("the HTML status page lacks the running request GET /sleep:\n%s", page)
		}
		if !strings.Contains(page, "opsapp:app") {
			t.Errorf("the HTML status page lacks the app name:\n%s", page)
		}

		if err := <-slowDone; err != nil {
			t.Fatalf("slow request: %v", err)
		}
		if slowPID == 0 {
			t.Fatal("slow request: no pid")
		}
		// Once done, every worker is idle and the served counts add up.
		st := c.Status()
		var served int64
		for _, w := range st.Workers {
			served += w.Served
			if w.State != "idle" || len(w.Requests) != 0 {
				t.Errorf("worker %d: state %q, requests %v after the slow request; want idle", w.PID, w.State, w.Requests)
			}
		}
		if served != warm+1 {
			t.Errorf("workers served %d requests in all; want %d", served, warm+1)
		}

		// Probes.
		if b := mustGet(t, ops.URL+"/readyz"); string(b) != "ready\n" {
			t.Errorf("/readyz while serving: %q", b)
		}
		if b := mustGet(t, ops.URL+"/healthz"); string(b) != "ok\n" {
			t.Errorf("/healthz: %q", b)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if c.Ready() {
			t.Error("Ready() true after Shutdown")
		}
		resp, b, err := get(t, nil, "GET", ops.URL+"/readyz", nil)
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/readyz after Shutdown: status %d %q (%v); want 503", resp.StatusCode, b, err)
		}
		if b := mustGet(t, ops.URL+"/healthz"); string(b) != "ok\n" {
			t.Errorf("/healthz after Shutdown: %q", b)
		}
	})
}

// checkStatusJSON checks a status snapshot taken while one worker runs
// GET /sleep and warm requests have been served before it.
func checkStatusJSON(t *testing.T, st Status, raw []byte, warm int, noPreload bool) {
	t.Helper()
	if len(st.Workers) != 2 {
		t.Fatalf("status lists %d workers; want 2:\n%s", len(st.Workers), raw)
	}
	if st.App != "opsapp:app" || !st.Ready || st.Threads != 1 || st.Preload == noPreload || st.Generation < 1 {
		t.Errorf("status header wrong:\n%s", raw)
	}
	// An idle worker's requests are [], not null (a tool reading
	// .requests.length would fail).
	if strings.Contains(string(raw), "null") {
		t.Errorf("status JSON has a null:\n%s", raw)
	}
	// The raw JSON uses the documented keys.
	for _, key := range []string{`"pid"`, `"index"`, `"state"`, `"served"`, `"rss_bytes"`, `"age_seconds"`, `"running_seconds"`, `"method"`, `"path"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("status JSON lacks key %s:\n%s", key, raw)
		}
	}
	busy := 0
	var served int64
	for _, w := range st.Workers {
		served += w.Served
		if w.PID <= 0 || !pidAlive(w.PID) {
			t.Errorf("worker pid %d is not a live process", w.PID)
		}
		if w.RSS <= 0 {
			t.Errorf("worker %d: rss_bytes %d; want > 0", w.PID, w.RSS)
		}
		if w.Age <= 0 || w.Started.IsZero() {
			t.Errorf("worker %d: age %v, started %v; want both set", w.PID, w.Age, w.Started)
		}
		switch w.State {
		case "busy":
			busy++
			if len(w.Requests) != 1 {
				t.Errorf("busy worker %d lists requests %v; want the one GET /sleep", w.PID, w.Requests)
				continue
			}
			r := w.Requests[0]
			if r.Method != "GET" || r.Path != "/sleep" || r.Running <= 0 {
				t.Errorf("busy worker %d runs %+v; want GET /sleep running > 0", w.PID, r)
			}
		case "idle":
			if len(w.Requests) != 0 {
				t.Errorf("idle worker %d lists requests %v", w.PID, w.Requests)
			}
		default:
			t.Errorf("worker %d: state %q; want busy or idle", w.PID, w.State)
		}
	}
	if busy != 1 {
		t.Errorf("%d busy workers; want 1:\n%s", busy, raw)
	}
	if served != int64(warm) {
		t.Errorf("workers served %d requests in all; want %d:\n%s", served, warm, raw)
	}
}

var faulthandlerLine = regexp.MustCompile(`File \\?"[^"\\]*opsapp\.py\\?", line \d+ in ops_sleepy_function`)

func TestOpsSlowRequestLog(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		c, logs := newContainer(t, Config{App: "opsapp:app", Workers: 1, NoPreload: noPreload, SlowRequest: 300 * time.Millisecond})
		srv := newServer(t, c)
		// Quick requests are not logged.
		for range 5 {
			mustAnswer(t, srv.URL+"/pid")
		}
		if strings.Contains(logs.String(), "slow request") {
			t.Fatalf("quick requests were logged as slow:\n%s", logs)
		}
		start := time.Now()
		_, pid := mustAnswer(t, srv.URL+"/sleep?s=1")
		if d := time.Since(start); d < time.Second {
			t.Fatalf("the slow request took %v; want >= 1s", d)
		}
		logHas(t, logs, 3*time.Second, "slow request", "url.path=/sleep")
		waitFor(t, 3*time.Second, "the faulthandler stack naming ops_sleepy_function", func() bool {
			return faulthandlerLine.MatchString(logs.String())
		})
		time.Sleep(500 * time.Millisecond) // a second report would be here by now
		s := logs.String()
		if n := strings.Count(s, `msg="wsgi: slow request`); n != 1 {
			t.Errorf("%d slow request reports for one request; want exactly 1:\n%s", n, s)
		}
		// The stacks are one record at the headline's level (WARN).
		if stack := logLine(logs, "graft.stack="); !strings.Contains(stack, "level=WARN") || !strings.Contains(stack, "url.path=/sleep") {
			t.Errorf("the slow request's stack record is not at WARN with the request's path: %s", stack)
		}
		if n := strings.Count(s, "graft.stack="); n != 1 {
			t.Errorf("%d stack records for one slow request; want 1:\n%s", n, s)
		}
		// The worker's line after its dump (and at its start) is read, not
		// logged (TestWorkerDumpEnd).
		if strings.Contains(s, dumpEnd) {
			t.Errorf("the worker's %q line was logged:\n%s", dumpEnd, s)
		}
		line := logLine(logs, "slow request")
		for _, want := range []string{"http.request.method=GET", "url.path=/sleep", "level=WARN"} {
			if !strings.Contains(line, want) {
				t.Errorf("slow request log line lacks %q: %s", want, line)
			}
		}
		// The request has no id (no middleware.RequestID): the key is
		// left out, on the headline and on the stack record.
		for _, l := range []string{line, logLine(logs, "graft.stack=")} {
			if strings.Contains(l, "request.id") {
				t.Errorf("a request without an id logged request.id: %s", l)
			}
		}
		// The worker was only asked for its stacks: it lives on and serves.
		if _, p := mustAnswer(t, srv.URL+"/pid"); p != pid {
			t.Errorf("after the slow request pid %d answered; want the same worker %d (not killed)", p, pid)
		}
		if st := c.Status(); len(st.Restarts) > 0 {
			for reason, n := range st.Restarts {
				if n > 0 {
					t.Errorf("Restarts = %v after a slow request; want none (reason %s)", st.Restarts, reason)
				}
			}
		}
	})
}

func TestOpsAutoreload(t *testing.T) {
	preloadVariants(t, func(t *testing.T, noPreload bool) {
		dir := copyOpsApp(t)
		c, logs := newContainer(t, Config{App: "opsapp:app", Dir: dir, Workers: 2, NoPreload: noPreload, AutoReload: true})
		srv := newServer(t, c)
		gen0 := c.Status().Generation
		lg := startLoad(t, srv.URL+"/pid", 3)
		time.Sleep(700 * time.Millisecond) // past one poll: the edit is a change
		editOpsApp(t, dir, setVersion("v2"))
		edited := time.Now()
		waitFor(t, 6*time.Second, "requests to return v2 after the edit", func() bool {
			a := lg.snapshot()
			return len(a) > 0 && a[len(a)-1].version == "v2"
		})
		t.Logf("v2 served %v after the edit", time.Since(edited).Round(time.Millisecond))
		time.Sleep(500 * time.Millisecond)
		answers := lg.checkNoFailures(t, 50)
		// Once v2 appeared, v1 never came back for a request sent after it.
		var firstV2 time.Time
		for _, a := range answers {
			if a.version == "v2" && (firstV2.IsZero() || a.start.Before(firstV2)) {
				firstV2 = a.start
			}
		}
		for _, a := range answers {
			if a.version == "v1" && a.start.After(firstV2.Add(100*time.Millisecond)) {
				t.Errorf("v1 answered by %d at %v, after v2 was served at %v", a.pid, a.start, firstV2)
				break
			}
		}
		if st := c.Status(); st.Generation != gen0+1 {
			t.Errorf("Generation %d after one edit; want %d (one reload)", st.Generation, gen0+1)
		}

		// Code that does not import: the failure is logged once, with the
		// traceback as its own attribute, and v2 keeps serving.
		editOpsApp(t, dir, func(s string) string {
			s = strings.Replace(s, `VERSION = "v2"`, `VERSION = "v3"`, 1)
			return strings.Replace(s, "import os\n", "import os\nraise RuntimeError('broken on purpose')\n", 1)
		})
		logHas(t, logs, 10*time.Second, "reload failed")
		if v, _ := mustAnswer(t, srv.URL+"/pid"); v != "v2" {
			t.Errorf("version %q after a failed autoreload; want v2", v)
		}
		// A good edit after it: once it is served, whatever the failed
		// reload logs is in.
		editOpsApp(t, dir, func(s string) string {
			return strings.Replace(s, "raise RuntimeError('broken on purpose')\n", "", 1)
		})
		waitFor(t, 10*time.Second, "v3 after fixing the code", func() bool {
			v, _ := mustAnswer(t, srv.URL+"/pid")
			return v == "v3"
		})
		log := logs.String()
		if n := strings.Count(log, "RuntimeError('broken on purpose')"); n != 1 {
			t.Errorf("the failed reload's traceback is logged %d times; want once:\n%s", n, log)
		}
		if line := logLine(logs, "reload failed"); !strings.Contains(line, logTraceback+"=") || !strings.Contains(line, "RuntimeError") {
			t.Errorf("the failed reload's line lacks the traceback attribute: %s", line)
		}
	})
}

// TestOpsReloadAfterShutdown: a Reload once the container is shut down
// fails with an error that wraps ErrClosed and says "wsgi:" once.
func TestOpsReloadAfterShutdown(t *testing.T) {
	c, _ := newContainer(t, Config{App: "apps:hello"})
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := c.Reload(context.Background())
	if !errors.Is(err, ErrClosed) || err.Error() != "wsgi: reload: container is shut down" {
		t.Errorf("Reload after Shutdown: %v; want %q, wrapping ErrClosed", err, "wsgi: reload: container is shut down")
	}
}

// A reload counts the workers it replaces, each once: one still draining
// a request from an earlier reload (or a recycle) was replaced already
// and counted then.
func TestOpsReloadCountsOnce(t *testing.T) {
	c, _ := newContainer(t, Config{App: "opsapp:app", Workers: 1})
	srv := newServer(t, c)
	mustAnswer(t, srv.URL+"/pid")
	// Long enough to outlast two reloads on a loaded machine, short
	// enough for the cleanup's Shutdown to wait for.
	go getAnswer(http.DefaultClient, srv.URL+"/sleep?s=6")
	waitFor(t, 5*time.Second, "the slow request running", func() bool {
		ws := c.Status().Workers
		return len(ws) == 1 && ws[0].State == "busy"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i := range 2 {
		if err := c.Reload(ctx); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
	}
	// The first worker drains its slow request through both reloads.
	st := c.Status()
	draining := 0
	for _, w := range st.Workers {
		if w.State == "draining" {
			draining++
		}
	}
	if draining == 0 {
		t.Fatalf("no worker draining the slow request after two reloads: %+v", st.Workers)
	}
	if got := st.Restarts["reload"]; got != 2 {
		t.Errorf("after two reloads of one worker (the first still draining): restarts[reload] = %d, want 2", got)
	}
}

// statusJSON returns what c's /status page answers in JSON.
func statusJSON(t *testing.T, c *Container) Status {
	t.Helper()
	rec := httptest.NewRecorder()
	c.StatusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/status?format=json", nil))
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("/status?format=json: %v\n%s", err, rec.Body)
	}
	return st
}
