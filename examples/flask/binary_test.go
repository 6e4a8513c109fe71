package main

import (
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
)

// The shop travels inside the binary: built, copied alone to an empty
// directory and run there, it serves its pages (templates and
// products.json read by path from the workers' copy), its JSON API and
// its static folder (Go's fallback.Static), and leaves nothing behind.
func TestSingleBinary(t *testing.T) {
	base := opstest.SingleBinary(t, "flask", "-workers", "1")
	opstest.CheckPages(t, base, []opstest.Page{
		{Path: "/shop/", Want: "/shop/static/shop.css"},
		{Path: "/shop/products/1", Want: "<html"},
		{Path: "/shop/api/products", Want: `"count"`, Header: map[string]string{"X-Served-By": "go"}},
		{Path: "/shop/static/shop.css", Want: "font-family", Header: map[string]string{
			"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=60"}},
	})
}
