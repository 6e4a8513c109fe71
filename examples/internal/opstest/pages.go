package opstest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Page is a page CheckPages fetches: GET Path must answer 200 itself (not
// through a redirect), with Want in the body and the values of Header.
type Page struct {
	Path, Want string
	Header     map[string]string
}

// CheckPages fetches each page from base ("http://127.0.0.1:PORT") and
// reports each difference from what the page wants as a test error.
func CheckPages(t testing.TB, base string, pages []Page) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range pages {
		resp, err := c.Get(base + p.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", p.Path, err)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), p.Want) {
			t.Errorf("GET %s: %d %.300q", p.Path, resp.StatusCode, b)
		}
		for k, v := range p.Header {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", p.Path, k, got, v)
			}
		}
	}
}
