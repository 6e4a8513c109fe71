package wsgi

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// FuzzRequestTarget checks the container's reading of the request target
// (requestTarget, targetError) against net/http's and the guard's, for
// any target net/http reads:
//   - the guard and the container agree on which targets they refuse
//     (both apply targetFormError; the container sees the target as the
//     guard passes it, without its fragment);
//   - of a target the container accepts, REQUEST_URI is the target up to
//     any '#', and the path and query the app gets are net/http's
//     (URL.Path decoded once, URL.RawQuery) when there is no fragment;
//     "*" is for OPTIONS only, and CONNECT's authority-form gives no path.
func FuzzRequestTarget(f *testing.F) {
	methods := []string{"GET", "OPTIONS", "CONNECT", "POST", "HEAD"}
	for _, s := range []string{
		"/", "/a?b=c", "/a%2Fb?x#frag", "*", "http://h/x?y", "https://H:8443", "http://h?q",
		"h:443", "[::1]:8080", "http://u@h/", "ftp://h/", "/%zz", "/a#%zz", "//x", "/?#",
		"http://h/a%20b?c%20d", "HTTP://h/x", "http://[::1]:80/p", "http://h%41/", "/a?b?c",
	} {
		for i := range methods {
			f.Add(uint8(i), s)
		}
	}
	lim := RequestLimits{}.withDefaults()
	f.Fuzz(func(t *testing.T, m uint8, target string) {
		method := methods[int(m)%len(methods)]
		raw := method + " " + target + " HTTP/1.1\r\nHost: h\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // net/http refuses it: no handler runs
		}
		containerErr := targetError(req)

		// The guard, then the container behind it.
		if h, rej := checkRequestHead([]byte(raw), lim); rej == nil {
			passed := []byte(raw)
			if h.cutFrom != h.cutTo {
				passed = bytes.Join([][]byte{passed[:h.cutFrom], passed[h.cutTo:]}, nil)
			}
			behind, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(passed)))
			if err == nil && targetError(behind) != nil {
				t.Fatalf("the guard passes %s %q, the container behind it refuses %q: %v", method, target, behind.RequestURI, targetError(behind))
			}
		} else if containerErr == nil && strings.Contains(rej.reason, "target") {
			t.Fatalf("the guard refuses %s %q (%s), the container without it accepts it", method, target, rej.reason)
		}

		if containerErr != nil {
			return
		}
		path, query, uri := requestTarget(req)
		want, _, hasFragment := strings.Cut(target, "#")
		if uri != want {
			t.Fatalf("%s %q: REQUEST_URI %q", method, target, uri)
		}
		switch {
		case method == http.MethodConnect:
			if path != "" || query != "" {
				t.Fatalf("CONNECT %q: path %q, query %q", target, path, query)
			}
			return
		case target == "*":
			if method != http.MethodOptions || path != "*" {
				t.Fatalf("%s *: path %q accepted", method, path)
			}
			return
		}
		if path == "" || path[0] != '/' {
			t.Fatalf("%s %q: path %q", method, target, path)
		}
		if hasFragment {
			return // net/http leaves the fragment in URL.Path and RawQuery
		}
		wantPath := req.URL.Path
		if wantPath == "" {
			wantPath = "/"
		}
		if got := unquote(path); got != wantPath || query != req.URL.RawQuery {
			t.Fatalf("%s %q: the app gets path %q query %q; net/http read %q %q", method, target, got, query, wantPath, req.URL.RawQuery)
		}
	})
}
