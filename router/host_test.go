package router

import (
	"net/http/httptest"
	"testing"
)

func hostRequest(t *testing.T, h *Hosts, method, host, path string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Host = host
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// Tornado §1e 41 (HostMatchingTest), with exact and "*." rules instead of
// regexps, and without the regexp-dot defect.
func TestHostMatching(t *testing.T) {
	h := NewHosts()
	def := New()
	def.Get("/foo", reply("wildcard"))
	def.Get("/only-default", reply("default"))
	h.Default(def)
	www := h.Host("www.example.com")
	www.Get("/foo", reply("[0]"))
	h.Host("WWW.example.com.").Get("/bar", reply("[1]")) // same rule, normalised
	www.Get("/baz", reply("[2]"))
	h.Host("*.exe.com").Get("/baz", reply("[3]"))
	h.Host("*.example.com").Get("/sub", reply("[4]"))
	h.Host("*.deep.example.com").Get("/sub", reply("[5]"))

	tests := []struct {
		name, host, path string
		code             int
		body             string
	}{
		{"no rule /foo", "other.org", "/foo", 200, "wildcard"},
		{"no rule /bar", "other.org", "/bar", 404, "404 page not found\n"},
		{"no rule /baz", "other.org", "/baz", 404, "404 page not found\n"},
		{"exact /foo", "www.example.com", "/foo", 200, "[0]"},
		{"exact /bar", "www.example.com", "/bar", 200, "[1]"},
		{"exact /baz", "www.example.com", "/baz", 200, "[2]"},
		{"case and port", "WWW.Example.COM:8080", "/foo", 200, "[0]"},
		{"trailing dot", "www.example.com.", "/foo", 200, "[0]"},
		{"regexp dot is literal", "wwwXexample.com", "/bar", 404, "404 page not found\n"},
		{"wildcard", "www.exe.com", "/baz", 200, "[3]"},
		{"wildcard excludes apex", "exe.com", "/baz", 404, "404 page not found\n"},
		{"longest wildcard first", "a.deep.example.com", "/sub", 200, "[5]"},
		{"shorter wildcard", "a.example.com", "/sub", 200, "[4]"},
		{"exact before wildcard", "www.example.com", "/sub", 200, "[4]"},
		{"falls through to default", "www.example.com", "/only-default", 200, "default"},
		{"ipv6 host", "[::1]:8080", "/foo", 200, "wildcard"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := hostRequest(t, h, "GET", tc.host, tc.path)
			if code != tc.code || body != tc.body {
				t.Errorf("got %d %q, want %d %q", code, body, tc.code, tc.body)
			}
		})
	}
}

// Tornado §1e 42 (DefaultHostMatchingTest): a default host serves requests
// for unknown hosts. The X-Real-Ip heuristic and the run-time change of the
// default are not ported.
func TestDefaultHost(t *testing.T) {
	h := NewHosts()
	ex := h.Host("www.example.com")
	ex.Get("/foo", reply("[0]"))
	ex.Get("/bar", reply("[1]"))
	h.Host("www.test.com").Get("/baz", reply("[2]"))
	h.Default(ex)
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/foo", 200, "[0]"},
		{"/bar", 200, "[1]"},
		{"/baz", 404, "404 page not found\n"},
	} {
		if code, body := hostRequest(t, h, "GET", "unknown.org", tc.path); code != tc.code || body != tc.body {
			t.Errorf("%s: got %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
}

func TestHostsFallback(t *testing.T) {
	h := NewHosts()
	api := h.Host("api.example.com")
	api.Get("/users", reply("go users"))
	api.Fallback(fakeFallback())
	h.Fallback(reply("hosts fallback"))
	for _, tc := range []struct{ method, host, path, want string }{
		{"GET", "api.example.com", "/users", "go users"},
		{"POST", "api.example.com", "/users", "fallback POST /users"},
		{"GET", "api.example.com", "/x", "fallback GET /x"},
		{"GET", "other.org", "/users", "hosts fallback"},
	} {
		d := &Dispatch{}
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.Host = tc.host
		req = req.WithContext(WithDispatch(req.Context(), d))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Body.String() != tc.want {
			t.Errorf("%s %s%s: got %q, want %q", tc.method, tc.host, tc.path, w.Body.String(), tc.want)
		}
		if want := tc.want != "go users"; d.Fallback != want {
			t.Errorf("%s %s%s: Dispatch.Fallback=%v, want %v", tc.method, tc.host, tc.path, d.Fallback, want)
		}
	}
}

func TestHostName(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM":      "example.com",
		"example.com:8080": "example.com",
		"example.com.":     "example.com",
		"[::1]:80":         "::1",
		"[::1]":            "::1",
		"":                 "",
	} {
		if got := HostName(in); got != want {
			t.Errorf("HostName(%q): got %q, want %q", in, got, want)
		}
	}
}
