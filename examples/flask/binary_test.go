package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/opstest"
)

// The shop travels inside the binary: built, copied alone to an empty
// directory and run there, it serves its pages (templates and
// products.json read by path from the workers' copy), its JSON API and
// its static folder (Go's fallback.Static), and leaves nothing behind.
func TestSingleBinary(t *testing.T) {
	base := opstest.SingleBinary(t, "flask", "-workers", "1")
	for _, tc := range []struct {
		path, want string
		header     map[string]string
	}{
		{"/shop/", "/shop/static/shop.css", nil},
		{"/shop/products/1", "<html", nil},
		{"/shop/api/products", `"count"`, map[string]string{"X-Served-By": "go"}},
		{"/shop/static/shop.css", "font-family", map[string]string{
			"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=60"}},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %s: %d %.300q", tc.path, resp.StatusCode, b)
		}
		for k, v := range tc.header {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", tc.path, k, got, v)
			}
		}
	}
}
