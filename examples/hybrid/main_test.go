package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/wsgi"
)

// startLegacy starts 2 workers of the bundled stdlib app; opstest.Serve
// stops them.
func startLegacy(t *testing.T, log *slog.Logger) *wsgi.Container {
	t.Helper()
	dir, err := filepath.Abs("pyapp")
	if err != nil {
		t.Fatal(err)
	}
	app, err := wsgi.New(wsgi.Config{App: "legacy:app", Python: pythontest.Python(t), Dir: dir, Workers: 2, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// startHybrid serves the example's handler (with the bundled stdlib app)
// on a test server.
func startHybrid(t *testing.T, mount string) *httptest.Server {
	t.Helper()
	log := opstest.Logger()
	app := startLegacy(t, log)
	f := opstest.Flags(t)
	return opstest.Serve(t, app, newHandler(&f, app, mount, log, nil))
}

func TestHybrid(t *testing.T) {
	srv := startHybrid(t, "")
	tests := []struct {
		method, path, body string
		status             int
		want               string // substring of the body
		servedBy           string // "go" or "python"
	}{
		{"GET", "/api/health", "", 200, `{"status":"ok"}`, "go"},
		{"GET", "/api/users/42", "", 200, `"id":"42"`, "go"},
		{"POST", "/api/users/42", "", 200, `"method": "POST"`, "python"}, // method mismatch falls back
		{"DELETE", "/api/users/42", "", 200, `"method": "DELETE"`, "python"},
		{"GET", "/api/hello/a%20b", "", 200, `"self":"/api/hello/a%20b"`, "go"},
		{"GET", "/", "", 200, "Served by Python", "python"},
		{"GET", "/hello?name=graft", "", 200, "Hello, graft", "python"},
		{"POST", "/echo", "msg=h%C3%A9llo", 200, `"msg": ["héllo"]`, "python"},
		{"GET", "/nope", "", 404, "said Python", "python"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, b, tc.status, tc.want)
			}
			if id := resp.Header.Get("X-Request-Id"); id == "" {
				t.Errorf("no X-Request-ID on a %s response", tc.servedBy)
			}
		})
	}
}

// TestHybridRequestIDReachesPython checks that the id Go sends back is the
// one the Python app saw, as HTTP_X_REQUEST_ID and graft.request_id.
func TestHybridRequestIDReachesPython(t *testing.T) {
	srv := startHybrid(t, "")
	resp, err := http.Get(srv.URL + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("X-Request-Id")
	if id == "" || env["HTTP_X_REQUEST_ID"] != id || env["graft.request_id"] != id {
		t.Fatalf("X-Request-ID %q; Python saw HTTP_X_REQUEST_ID=%v graft.request_id=%v", id, env["HTTP_X_REQUEST_ID"], env["graft.request_id"])
	}
}

func TestHybridMount(t *testing.T) {
	srv := startHybrid(t, "/legacy")
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/legacy/environ")
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); code != 200 || err != nil {
		t.Fatalf("GET /legacy/environ: %d %s", code, body)
	}
	if env["SCRIPT_NAME"] != "/legacy" || env["PATH_INFO"] != "/environ" {
		t.Errorf("SCRIPT_NAME=%v PATH_INFO=%v, want /legacy and /environ", env["SCRIPT_NAME"], env["PATH_INFO"])
	}
	// Links in the Python page are built from SCRIPT_NAME.
	if _, body := get("/legacy/"); !strings.Contains(body, `href="/legacy/hello?name=world"`) {
		t.Errorf("index does not link under the mount:\n%s", body)
	}
	// Outside the mount, nothing reaches Python.
	if code, body := get("/hello"); code != 404 || strings.Contains(body, "Python") {
		t.Errorf("GET /hello outside the mount: %d %q, want Go's 404", code, body)
	}
	if code, _ := get("/api/health"); code != 200 {
		t.Errorf("GET /api/health: %d", code)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"-mount", "/legacy", "app:app"}, false},
		{[]string{"app:app", "-mount", "/legacy", "-timeout", "30"}, false},
		{[]string{"app:app", "-timeout", "30x"}, true},
		{[]string{"-chdir", "/nonexistent"}, true},
		{[]string{"-mount", "legacy"}, true},
		{[]string{"-mount", "/legacy/"}, true},
		{[]string{"-workers", "-1"}, true},
		{[]string{"a:b", "c:d"}, true},
		{[]string{"-nope"}, true},
	}
	for _, tc := range tests {
		_, err := parseFlags(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseFlags(%q) error %v, want error %v", tc.args, err, tc.wantErr)
		}
	}
}

// A port in use fails the command before Python starts (run returns at
// once with the bind error; the metrics port likewise).
func TestBusyPort(t *testing.T) { opstest.BusyPort(t, run) }

// TestMigrationFailsFirst: a busy -admin-bind or a broken -stages file
// fails before Python starts.
func TestMigrationFailsFirst(t *testing.T) { opstest.MigrationFailsFirst(t, run) }

// A mistake in the command line exits 2 naming its flag, a missing
// directory 1, by cli.Main's rule, before Python starts.
func TestUsageErrors(t *testing.T) { opstest.UsageErrors(t, run, true) }
