package main

import (
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
)

// The project travels inside the binary: built, copied alone to an empty
// directory and run there, it serves a page, the admin's login page and a
// static file (Go's fallback.Static), and leaves nothing behind.
func TestSingleBinary(t *testing.T) {
	base := opstest.SingleBinary(t, "django", "-workers", "1")
	opstest.CheckPages(t, base, []opstest.Page{
		{Path: "/legacy/", Want: "<html"},
		{Path: "/legacy/admin/login/", Want: "csrfmiddlewaretoken"},
		{Path: "/legacy/static/admin/css/base.css", Header: map[string]string{
			"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=60", "Accept-Ranges": "bytes"}},
	})
}
