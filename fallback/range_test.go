package fallback

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	dir := t.TempDir()
	for name, content := range map[string]string{"ten.txt": "0123456789", "empty.txt": ""} {
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
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"static", static}, {"sendfile", sendfile}} {
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
