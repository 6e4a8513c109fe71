package main

import (
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
)

// The project travels inside the binary: built, copied alone to an empty
// directory and run there, it serves a page, the admin's login page and a
// static file (Go's fallback.Static), and leaves nothing behind.
func TestSingleBinary(t *testing.T) {
	base := opstest.SingleBinary(t, "django", "-workers", "1")
	for _, tc := range []struct {
		path, want string
		header     map[string]string
	}{
		{"/legacy/", "<html", nil},
		{"/legacy/admin/login/", "csrfmiddlewaretoken", nil},
		{"/legacy/static/admin/css/base.css", "", map[string]string{
			"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=60", "Accept-Ranges": "bytes"}},
	} {
		r := get(t, base+tc.path)
		if r.status != 200 || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET %s: %d %.300q", tc.path, r.status, r.body)
		}
		for k, v := range tc.header {
			if got := r.header.Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", tc.path, k, got, v)
			}
		}
	}
}
