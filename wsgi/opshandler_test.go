package wsgi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func TestOpsHandler(t *testing.T) {
	c, _ := newContainer(t, Config{App: "opsapp:app", Workers: 2})
	app := httptest.NewServer(c)
	defer app.Close()
	for range 3 {
		resp, err := http.Get(app.URL + "/pid")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ops := httptest.NewServer(c.OpsHandler(nil))
	defer ops.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(ops.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/metrics", []string{`graft_wsgi_workers{state="idle"} 2`, "graft_wsgi_queue_wait_seconds_count 3",
			`graft_wsgi_worker_restarts_total{reason="crash"} 0`, "go_goroutines", "process_resident_memory_bytes"}},
		{"/healthz", []string{"ok"}},
		{"/readyz", []string{"ready"}},
		{"/status", []string{"<table>", "opsapp:app"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(tc.path)
			if code != 200 {
				t.Fatalf("GET %s: %d %s", tc.path, code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q:\n%s", tc.path, w, body)
				}
			}
		})
	}
	code, body := get("/status?format=json")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("status JSON: %d %v", code, err)
	}
	var served int64
	for _, w := range st.Workers {
		served += w.Served
	}
	if len(st.Workers) != 2 || served != 3 || !st.Ready {
		t.Errorf("status: %d workers, %d served, ready %v; want 2, 3, true", len(st.Workers), served, st.Ready)
	}
}

// /status picks HTML or JSON by the Accept header's q-values (q=0 is a
// refusal, the most specific range wins), ?format=json or html forcing
// one (400 for another value), and answers 406 when neither is acceptable;
// it varies by Accept.
func TestStatusAccept(t *testing.T) {
	c, _ := newContainer(t, Config{App: "opsapp:app"})
	h := c.StatusHandler()
	const html, json = "text/html; charset=utf-8", "application/json"
	tests := []struct {
		name, query string
		accept      []string
		code        int
		ctype       string
	}{
		{"no Accept", "", nil, 200, html},
		{"browser", "", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, 200, html},
		{"curl", "", []string{"*/*"}, 200, html},
		{"json", "", []string{"application/json"}, 200, json},
		{"json refused", "", []string{"application/json;q=0"}, 406, "text/plain; charset=utf-8"},
		{"json refused, anything else", "", []string{"application/json;q=0, */*"}, 200, html},
		{"json refused among others", "", []string{"text/plain, application/json;q=0, text/html;q=0.5"}, 200, html},
		{"json preferred", "", []string{"text/html;q=0.4, application/json;q=0.8"}, 200, json},
		{"html preferred", "", []string{"application/json;q=0.4, text/html;q=0.8"}, 200, html},
		{"wildcard with json refused", "", []string{"*/*;q=0.1, application/json;q=0"}, 200, html},
		{"application wildcard", "", []string{"application/*"}, 200, json},
		{"neither", "", []string{"image/png, text/plain"}, 406, "text/plain; charset=utf-8"},
		{"format=json", "?format=json", []string{"text/html"}, 200, json},
		{"format=html", "?format=html", []string{"application/json"}, 200, html},
		{"format=xml", "?format=xml", nil, 400, "text/plain; charset=utf-8"},
		{"format=JSON", "?format=JSON", []string{"application/json"}, 400, "text/plain; charset=utf-8"},
		{"format empty", "?format=", []string{"application/json"}, 200, json},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/status"+tc.query, nil)
			for _, v := range tc.accept {
				r.Header.Add("Accept", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code || w.Header().Get("Content-Type") != tc.ctype || w.Header().Get("Vary") != "Accept" {
				t.Errorf("Accept %q: %d %q (Vary %q); want %d %q", tc.accept, w.Code, w.Header().Get("Content-Type"),
					w.Header().Get("Vary"), tc.code, tc.ctype)
			}
			if tc.code == 406 && !strings.Contains(w.Body.String(), "text/html or application/json") {
				t.Errorf("406 body %q; want it to name what /status serves", w.Body)
			}
			if tc.code == 400 && !strings.Contains(w.Body.String(), "json or html") {
				t.Errorf("400 body %q; want it to name the format values /status takes", w.Body)
			}
		})
	}
}

// OpsHandler takes a registry that already exports the container, Go's
// and the process's metrics (as operations.md tells to register the
// container, and as most programs register the Go collector): it adds
// what is missing instead of panicking, and exports each metric once. A
// second container's metrics in the same registry stay a panic: they
// would be the first one's, silently.
func TestOpsHandlerRegistered(t *testing.T) {
	c, _ := newContainer(t, Config{App: "opsapp:app"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ops := httptest.NewServer(c.OpsHandler(reg))
	defer ops.Close()
	resp, err := http.Get(ops.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"graft_wsgi_ready 1", "go_goroutines ", "process_resident_memory_bytes "} {
		if n := strings.Count(string(b), "\n"+m); resp.StatusCode != 200 || n != 1 {
			t.Errorf("/metrics: %d, %q %d times, want 200 and once:\n%s", resp.StatusCode, m, n, b)
		}
	}
	c2, _ := newContainer(t, Config{App: "opsapp:app"})
	defer func() {
		if recover() == nil {
			t.Error("a second container's OpsHandler with the same registry did not panic")
		}
	}()
	c2.OpsHandler(reg)
}
