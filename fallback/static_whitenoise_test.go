package fallback

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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
			for _, k := range []string{"Content-Encoding"} {
				if got, wn := w.Header().Get(k), want[i].Headers[k]; got != wn {
					t.Errorf("%s: Static %q, WhiteNoise %q", k, got, wn)
				}
			}
		})
	}
}
