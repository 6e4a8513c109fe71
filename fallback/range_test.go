package fallback

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnsatisfiableSuffixRange: a suffix range of length 0 ("bytes=-0") is
// unsatisfiable (RFC 9110 §14.1.1), and a range of an empty file has no
// bytes to send. http.ServeContent answered both with a 206 and an invalid
// Content-Range ("bytes 10-9/10", "bytes 0--1/0"), and put an empty part
// with that Content-Range in a multipart answer. Static and Sendfile now
// answer 416 (bytes */size) when no other range is left, drop the empty
// range from a multipart one, and send an empty file whole (200).
func TestUnsatisfiableSuffixRange(t *testing.T) {
	handlers := rangeHandlers(t, map[string]string{"ten.txt": "0123456789", "empty.txt": ""})
	tests := []struct {
		name, file, rng, ifRange string
		code                     int
		contentRange, body       string
	}{
		{name: "suffix 0", file: "ten.txt", rng: "bytes=-0", code: 416, contentRange: "bytes */10"},
		{name: "suffix 00 with spaces", file: "ten.txt", rng: "bytes= -00 ", code: 416, contentRange: "bytes */10"},
		{name: "suffix 0 among others", file: "ten.txt", rng: "bytes=-0,2-3", code: 206, contentRange: "bytes 2-3/10", body: "23"},
		{name: "suffix 0, stale If-Range", file: "ten.txt", rng: "bytes=-0", ifRange: `"stale"`, code: 200, body: "0123456789"},
		{name: "suffix 1", file: "ten.txt", rng: "bytes=-1", code: 206, contentRange: "bytes 9-9/10", body: "9"},
		{name: "empty file, suffix", file: "empty.txt", rng: "bytes=-5", code: 200},
		{name: "empty file, suffix 0", file: "empty.txt", rng: "bytes=-0", code: 200},
		{name: "empty file, from 0", file: "empty.txt", rng: "bytes=0-", code: 200},
	}
	for _, h := range handlers {
		for _, tc := range tests {
			t.Run(h.name+"/"+tc.name, func(t *testing.T) {
				req := httptest.NewRequest("GET", "/"+tc.file, nil)
				req.Header.Set("Range", tc.rng)
				if tc.ifRange != "" {
					req.Header.Set("If-Range", tc.ifRange)
				}
				w := serveWithin(t, h.h, req)
				if w.Code != tc.code || w.Header().Get("Content-Range") != tc.contentRange {
					t.Fatalf("%d, Content-Range %q; want %d, %q", w.Code, w.Header().Get("Content-Range"), tc.code, tc.contentRange)
				}
				if tc.code != 416 && w.Body.String() != tc.body {
					t.Errorf("body %q, want %q", w.Body.String(), tc.body)
				}
			})
		}
	}
}

// TestMaxRanges: http.ServeContent refuses ranges whose lengths add up to
// more than the file, but not many small ones: "bytes=0-0,1-1,..." made a
// file come back as one multipart part per byte, ~140 bytes of headers
// each. Static and Sendfile send the whole file (200) to a request with
// more than maxRanges ranges, as Apache does beyond its MaxRanges.
func TestMaxRanges(t *testing.T) {
	content := strings.Repeat("x", 1000)
	handlers := rangeHandlers(t, map[string]string{"k.txt": content})
	ranges := func(n int, spec func(i int) string) string {
		specs := make([]string, n)
		for i := range specs {
			specs[i] = spec(i)
		}
		return "bytes=" + strings.Join(specs, ",")
	}
	byteI := func(i int) string { return fmt.Sprintf("%d-%d", i, i) }
	first := func(int) string { return "0-0" }
	tests := []struct {
		name, rng string
		code      int
	}{
		{name: "maxRanges distinct", rng: ranges(maxRanges, byteI), code: 206},
		{name: "maxRanges+1 distinct", rng: ranges(maxRanges+1, byteI), code: 200},
		{name: "one per byte", rng: ranges(1000, byteI), code: 200},
		{name: "maxRanges+1 overlapping", rng: ranges(maxRanges+1, first), code: 200},
		{name: "maxRanges and empty specs", rng: ranges(maxRanges, byteI) + ",,,", code: 206},
		{name: "zero-length suffixes not counted", rng: ranges(maxRanges, byteI) + ",-0,-0", code: 206},
	}
	for _, h := range handlers {
		for _, tc := range tests {
			t.Run(h.name+"/"+tc.name, func(t *testing.T) {
				req := httptest.NewRequest("GET", "/k.txt", nil)
				req.Header.Set("Range", tc.rng)
				w := serveWithin(t, h.h, req)
				if w.Code != tc.code {
					t.Fatalf("%d (%d bytes); want %d", w.Code, w.Body.Len(), tc.code)
				}
				if tc.code == 200 && w.Body.String() != content {
					t.Errorf("body of %d bytes, want the file's 1000", w.Body.Len())
				}
				if tc.code == 206 && !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
					t.Errorf("Content-Type %q, want multipart/byteranges", w.Header().Get("Content-Type"))
				}
			})
		}
	}
}

// namedHandler is a handler a test runs its cases against, by name.
type namedHandler struct {
	name string
	h    http.Handler
}

// rangeHandlers writes files (name to content) to a new directory and
// returns the two ways fallback serves them, both through the one range
// rule: Static, and an app's X-Sendfile answer naming /PATH under it.
func rangeHandlers(t *testing.T, files map[string]string) []namedHandler {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	static, err := NewStaticDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	static.Logger = discardLogger()
	sendfile := &Handler{Sendfile: &Sendfile{Roots: []string{dir}, Logger: discardLogger()},
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Sendfile", filepath.Join(dir, r.URL.Path))
		})}
	return []namedHandler{{"static", static}, {"sendfile", sendfile}}
}
