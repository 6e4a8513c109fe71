package opstest

import (
	"net/http"
	"strings"
	"testing"
)

// StaticFlags checks that an example's static files follow -static-no-cors
// and -static-max-age as -static mounts do. fetch serves the example
// parsed with args and returns the headers of one of its static files,
// having checked that Go served the file.
func StaticFlags(t *testing.T, fetch func(t *testing.T, args []string) http.Header) {
	for _, tc := range []struct {
		args        []string
		cors, cache string
	}{
		{nil, "*", "public, max-age=60"},
		{[]string{"-static-no-cors", "-static-max-age", "1h"}, "", "public, max-age=3600"},
		{[]string{"-static-max-age", "0"}, "*", "no-cache"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			h := fetch(t, tc.args)
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.cors {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.cors)
			}
			if got := h.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
		})
	}
}
