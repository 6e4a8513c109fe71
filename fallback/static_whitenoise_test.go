package fallback

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

// wnRequest and wnResponse are what testdata/whitenoiseprobe.py reads and
// writes.
type wnRequest struct {
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
}

type wnResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
}

// whiteNoise answers reqs with real WhiteNoise (its defaults) serving root
// at prefix.
func whiteNoise(t *testing.T, root, prefix string, reqs []wnRequest) []wnResponse {
	t.Helper()
	python := pythontest.Python(t, "whitenoise")
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, filepath.Join("testdata", "whitenoiseprobe.py"), root, prefix)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("whitenoiseprobe.py: %v\n%s", err, stderr.String())
	}
	var resps []wnResponse
	if err := json.Unmarshal(out, &resps); err != nil || len(resps) != len(reqs) {
		t.Fatalf("whitenoiseprobe.py answered %q: %v", out, err)
	}
	return resps
}

// TestStaticWhiteNoiseParity asks real WhiteNoise and Static the same
// requests for the same files and compares the status and the headers
// where Static means to behave as WhiteNoise does.
func TestStaticWhiteNoiseParity(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{
		"css/app.css":    "body{color:red}",
		"css/app.css.gz": gz(t, "body{color:red}"),
		"css/app.css.br": "BROTLI-BYTES",
		"archive.tar.gz": "not a variant: archive.tar does not exist",
		"dir.gz":         "not a variant: dir is a directory",
		"dir/x.txt":      "x",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	static, err := NewStaticDir(root)
	if err != nil {
		t.Fatal(err)
	}
	static.Prefix = "/static/"
	static.Logger = discardLogger()

	tests := []struct {
		name string
		req  wnRequest
	}{
		{"plain file", wnRequest{Path: "/static/css/app.css"}},
		{"gzip variant asked for itself", wnRequest{Path: "/static/css/app.css.gz"}},
		{"gzip variant asked for itself, accepting gzip", wnRequest{Path: "/static/css/app.css.gz", Headers: map[string]string{"Accept-Encoding": "gzip"}}},
		{"brotli variant asked for itself", wnRequest{Path: "/static/css/app.css.br", Headers: map[string]string{"Accept-Encoding": "br"}}},
		{".gz file of no other", wnRequest{Path: "/static/archive.tar.gz"}},
		{".gz file named after a directory", wnRequest{Path: "/static/dir.gz"}},
		{"missing", wnRequest{Path: "/static/css/nope.css"}},
	}
	reqs := make([]wnRequest, len(tests))
	for i, tc := range tests {
		reqs[i] = tc.req
	}
	want := whiteNoise(t, root, "/static/", reqs)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.req.Path, nil)
			for k, v := range tc.req.Headers {
				req.Header.Set(k, v)
			}
			w := serveWithin(t, static, req)
			if w.Code != want[i].Status {
				t.Fatalf("Static: %d; WhiteNoise: %d", w.Code, want[i].Status)
			}
			if w.Code != http.StatusOK {
				return
			}
			for _, k := range []string{"Content-Encoding", "Access-Control-Allow-Origin"} {
				if got, wn := w.Header().Get(k), want[i].Headers[k]; got != wn {
					t.Errorf("%s: Static %q, WhiteNoise %q", k, got, wn)
				}
			}
		})
	}
}

// TestStaticAllowOrigin: WhiteNoise sends "Access-Control-Allow-Origin: *"
// with every file by default (allow_all_origins), which web fonts and
// crossorigin scripts loaded from another origin (a CDN in front) need;
// Static sent none. It now does unless NoCORS is set. Sendfile adds none:
// its answers are the app's, which says itself who may read them.
func TestStaticAllowOrigin(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "font.woff2"), []byte("wOF2 font bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	withCORS, err := NewStaticDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	noCORS, err := NewStaticDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	noCORS.NoCORS = true
	w := serveWithin(t, withCORS, httptest.NewRequest("GET", "/font.woff2", nil))
	etag := w.Header().Get("Etag")
	appOrigin := ""
	sendfile := &Handler{Sendfile: &Sendfile{Roots: []string{dir}, Logger: discardLogger()},
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if appOrigin != "" {
				w.Header().Set("Access-Control-Allow-Origin", appOrigin)
			}
			w.Header().Set("X-Sendfile", filepath.Join(dir, r.URL.Path))
		})}
	tests := []struct {
		name, method, target string
		h                    http.Handler
		header               map[string]string
		appOrigin            string
		code                 int
		want                 string
	}{
		{name: "get", h: withCORS, target: "/font.woff2", code: 200, want: "*"},
		{name: "get from another origin", h: withCORS, target: "/font.woff2", header: map[string]string{"Origin": "https://www.example"}, code: 200, want: "*"},
		{name: "head", h: withCORS, method: "HEAD", target: "/font.woff2", code: 200, want: "*"},
		{name: "range", h: withCORS, target: "/font.woff2", header: map[string]string{"Range": "bytes=0-3"}, code: 206, want: "*"},
		{name: "not modified", h: withCORS, target: "/font.woff2", header: map[string]string{"If-None-Match": etag}, code: 304, want: "*"},
		{name: "missing", h: withCORS, target: "/nope.woff2", code: 404},
		{name: "NoCORS", h: noCORS, target: "/font.woff2", code: 200},
		{name: "NoCORS range", h: noCORS, target: "/font.woff2", header: map[string]string{"Range": "bytes=0-3"}, code: 206},
		{name: "sendfile", h: sendfile, target: "/font.woff2", code: 200},
		{name: "sendfile, the app's own", h: sendfile, target: "/font.woff2", appOrigin: "https://www.example", code: 200, want: "https://www.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			appOrigin = tc.appOrigin
			req := httptest.NewRequest(method, tc.target, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := serveWithin(t, tc.h, req)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d", w.Code, tc.code)
			}
			if got := w.Header().Values("Access-Control-Allow-Origin"); strings.Join(got, ", ") != tc.want {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.want)
			}
		})
	}
}
