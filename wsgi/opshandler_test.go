package wsgi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
