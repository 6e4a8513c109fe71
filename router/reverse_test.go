package router

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/go-chi/chi/v5"
)

// Tornado §1e items 44-46: URLSpecReverseTest, test_reverse_url and
// test_decode_argument_plus, with chi patterns instead of regexps.
func TestURL(t *testing.T) {
	r := New()
	r.Get("/favicon.ico", reply("")).Name("favicon")
	r.Get("/api/v1/foo/{x}", reply("")).Name("v1")
	r.Get("/api/v{n:[0-9]+}/foo/{x:[a-z]+}", reply("")).Name("vn")
	r.Get("/api.v1/foo/{id:[0-9]+}/icon.png", reply("")).Name("icon")
	r.Get("/decode_arg/{arg}", reply("")).Name("arg")
	r.Get("/decode_all/*", reply("")).Name("all")
	r.Get("/n/{id:[0-9]{1,3}}", reply("")).Name("braces")
	r.Get("/file.{ext}", reply("")).Name("ext")
	r.Route("/v2/{tenant}", func(r *Router) {
		r.Get("/users/{id}", reply("")).Name("tenant-user")
	})
	sub := New()
	sub.Get("/", reply("")).Name("admin")
	sub.Get("/u/{id}", reply("")).Name("admin-user")
	r.Mount("/admin", sub)

	tests := []struct {
		name  string
		route string
		pairs []string
		want  string
		err   error
	}{
		{"no params", "favicon", nil, "/favicon.ico", nil},
		{"plain", "v1", []string{"x", "bar"}, "/api/v1/foo/bar", nil},
		{"regexps", "vn", []string{"n", "2", "x", "bar"}, "/api/v2/foo/bar", nil},
		{"regexp mismatch", "vn", []string{"n", "two", "x", "bar"}, "", ErrInvalidParam},
		{"literal dots", "icon", []string{"id", strconv.Itoa(5)}, "/api.v1/foo/5/icon.png", nil},
		{"ascii", "arg", []string{"arg", "foo"}, "/decode_arg/foo", nil},
		{"number", "arg", []string{"arg", strconv.Itoa(42)}, "/decode_arg/42", nil},
		{"latin-1 byte", "arg", []string{"arg", "\xe9"}, "/decode_arg/%E9", nil},
		{"utf-8", "arg", []string{"arg", "é"}, "/decode_arg/%C3%A9", nil},
		{"space and plus", "arg", []string{"arg", "1 + 1"}, "/decode_arg/1%20%2B%201", nil},
		{"slash in param", "arg", []string{"arg", "a b/é"}, "/decode_arg/a%20b%2F%C3%A9", nil},
		{"slash in catch-all", "all", []string{"*", "a b/é"}, "/decode_all/a%20b/%C3%A9", nil},
		{"empty catch-all", "all", nil, "/decode_all/", nil},
		{"reserved chars", "arg", []string{"arg", "?#%&="}, "/decode_arg/%3F%23%25%26%3D", nil},
		{"unreserved chars", "arg", []string{"arg", "a-b._~"}, "/decode_arg/a-b._~", nil},
		{"nested braces regexp", "braces", []string{"id", "123"}, "/n/123", nil},
		{"nested braces mismatch", "braces", []string{"id", "1234"}, "", ErrInvalidParam},
		{"mid-segment param", "ext", []string{"ext", "png"}, "/file.png", nil},
		{"subrouter prefix", "tenant-user", []string{"tenant", "acme", "id", "7"}, "/v2/acme/users/7", nil},
		{"mounted index", "admin", nil, "/admin/", nil},
		{"mounted param", "admin-user", []string{"id", "7"}, "/admin/u/7", nil},
		{"later value wins", "arg", []string{"arg", "a", "arg", "b"}, "/decode_arg/b", nil},
		{"unknown name", "nope", nil, "", ErrUnknownRoute},
		{"missing param", "arg", nil, "", ErrMissingParam},
		{"empty param", "arg", []string{"arg", ""}, "", ErrInvalidParam},
		{"unknown param", "arg", []string{"arg", "a", "typo", "b"}, "", ErrUnknownParam},
		{"odd pairs", "arg", []string{"arg"}, "", ErrOddParams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.URL(tc.route, tc.pairs...)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err: got %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// A mounted Router builds absolute paths too.
	if got, _ := sub.URL("admin-user", "id", "1"); got != "/admin/u/1" {
		t.Errorf("URL from the mounted Router: got %q, want %q", got, "/admin/u/1")
	}
}

// A parameter's regexp is checked against the value as chi will match it:
// decoded, unless the path has an escaped slash (%2F). URL succeeds exactly
// when the route serves the path.
func TestURLRegexpAsRouted(t *testing.T) {
	r := New()
	var served bool
	var got string
	h := func(_ http.ResponseWriter, req *http.Request) { served, got = true, Param(req, "v") }
	r.Get(`/tag/{v:\p{L}+}`, h).Name("letters")
	r.Get("/words/{v:[a-z ]+}", h).Name("words")
	r.Get("/pct/{v:[A-Za-z0-9%+]+}", h).Name("pct")
	r.Get("/sum/{v:[0-9 +]+}", h).Name("sum")
	r.Get(`/two/{a}/{v:\p{L}+}`, h).Name("two")
	r.Fallback(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	tests := []struct {
		name  string
		route string
		pairs []string
		path  string // what Escape builds; URL returns it when the route serves it
		ok    bool
	}{
		{"decoded letters", "letters", []string{"v", "café"}, "/tag/caf%C3%A9", true},
		{"decoded space", "words", []string{"v", "a b"}, "/words/a%20b", true},
		{"escapes are not what chi sees", "pct", []string{"v", "é"}, "/pct/%C3%A9", false},
		{"percent sign", "pct", []string{"v", "a%b"}, "/pct/a%25b", true},
		{"plus decoded", "sum", []string{"v", "1 + 1"}, "/sum/1%20%2B%201", true},
		{"plus matched escaped", "pct", []string{"v", "a+b"}, "/pct/a%2Bb", true},
		{"escaped slash elsewhere", "two", []string{"a", "x/y", "v", "é"}, "/two/x%2Fy/%C3%A9", false},
		{"no escaped slash", "two", []string{"a", "xy", "v", "é"}, "/two/xy/%C3%A9", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := r.URL(tc.route, tc.pairs...)
			if tc.ok && (err != nil || u != tc.path) {
				t.Fatalf("URL: got %q, %v; want %q", u, err, tc.path)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("URL: got %q, %v; want ErrInvalidParam", u, err)
			}
			served, got = false, ""
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.path, nil))
			if served != tc.ok {
				t.Errorf("GET %s: served by the route: %v, want %v", tc.path, served, tc.ok)
			}
			if v := tc.pairs[len(tc.pairs)-1]; served && got != v {
				t.Errorf("GET %s: Param %q, want %q", tc.path, got, v)
			}
		})
	}
}

// Tornado §1e 46 and the round trip: the path built by URL routes back to
// the route, and Param gives the original value.
func TestParamRoundTrip(t *testing.T) {
	var got string
	r := New()
	r.Get("/decode_arg/{arg}", func(_ http.ResponseWriter, req *http.Request) {
		got = Param(req, "arg")
	}).Name("arg")
	for _, tc := range []struct{ path, want string }{
		{"/decode_arg/1%20%2B%201", "1 + 1"},
		{"/decode_arg/1%20+%201", "1 + 1"},
		{"/decode_arg/a%2Fb", "a/b"},
		{"/decode_arg/%25", "%"},
		{"/decode_arg/%C3%A9", "é"},
	} {
		got = "<not routed>"
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.path, nil))
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	for _, p := range []string{"/a/{id", "/a/{}", "/a/*/b", "/a/{id:(}"} {
		if _, err := parseTemplate(p); err == nil {
			t.Errorf("parseTemplate(%q): no error", p)
		}
	}
}

// chi ends a parameter's value at the first occurrence of the byte that
// follows it in the pattern: URL refuses a value holding that byte, which
// the route would not serve (/f/a.b.json), or would serve with other
// values (/p/my-post-12 is slug "my", id "post-12").
func TestURLValueHoldsNextText(t *testing.T) {
	r := New()
	var served bool
	got := map[string]string{}
	h := func(_ http.ResponseWriter, req *http.Request) {
		served = true
		for _, k := range chi.RouteContext(req.Context()).URLParams.Keys {
			got[k] = Param(req, k)
		}
	}
	r.Get("/f/{name}.json", h).Name("dot")
	r.Get("/p/{slug}-{id}", h).Name("dash")
	r.Get("/r/{v:[a-z.]+}.txt", h).Name("regexp")
	r.Get("/u/{a}é", h).Name("utf8")
	r.Get("/s/{a}/{b}", h).Name("slash")
	r.Fallback(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	tests := []struct {
		name  string
		route string
		pairs []string
		path  string // what Escape builds; URL returns it when the route serves it
		ok    bool
	}{
		{"dot in value", "dot", []string{"name", "a.b"}, "/f/a.b.json", false},
		{"no dot", "dot", []string{"name", "a_b"}, "/f/a_b.json", true},
		{"dash in first value", "dash", []string{"slug", "my-post", "id", "12"}, "/p/my-post-12", false},
		{"dash in last value", "dash", []string{"slug", "my", "id", "1-2"}, "/p/my-1-2", true},
		{"dot matched by the regexp", "regexp", []string{"v", "a.b"}, "/r/a.b.txt", false},
		{"regexp without dot", "regexp", []string{"v", "ab"}, "/r/ab.txt", true},
		{"first byte of the next character", "utf8", []string{"a", "ã"}, "/u/%C3%A3%C3%A9", false},
		{"other character", "utf8", []string{"a", "x"}, "/u/x%C3%A9", true},
		{"slash after", "slash", []string{"a", "x.y-z", "b", "w.v"}, "/s/x.y-z/w.v", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := r.URL(tc.route, tc.pairs...)
			if tc.ok && (err != nil || u != tc.path) {
				t.Fatalf("URL: got %q, %v; want %q", u, err, tc.path)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("URL: got %q, %v; want ErrInvalidParam", u, err)
			}
			served, got = false, map[string]string{}
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.path, nil))
			same := served
			for k := 0; k < len(tc.pairs); k += 2 {
				same = same && got[tc.pairs[k]] == tc.pairs[k+1]
			}
			if same != tc.ok {
				t.Errorf("GET %s: served by the route with the values given: %v (served %v, values %v), want %v", tc.path, same, served, got, tc.ok)
			}
		})
	}
}

// A path from URL stays the route's path when a client resolves it as a
// link or a Location: it never starts with "//" (a scheme-relative URL,
// another host), a value that would make a dot segment, which clients
// remove (also when written %2E), is refused, and the pattern's own text
// is escaped where a path needs it ("?" would start a query).
func TestURLClientResolves(t *testing.T) {
	r := New()
	var got string
	h := func(_ http.ResponseWriter, req *http.Request) { got = Param(req, "*") + Param(req, "a") }
	r.Get("/*", h).Name("root")
	r.Get("/f/*", h).Name("files")
	r.Get("/p/{a}/t", h).Name("param")
	r.Get("/café x/{a}", h).Name("literal")
	r.Get("/q?x/{a}", h).Name("question")
	r.Fallback(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = "<fallback>" }))
	base, _ := url.Parse("http://example.com/x/y")
	for _, tc := range []struct {
		route, key, value string
		want              string // "" for ErrInvalidParam
	}{
		{"root", "*", "/evil.com", "/%2Fevil.com"},
		{"root", "*", "//evil.com/x", "/%2F/evil.com/x"},
		{"root", "*", "a/b", "/a/b"},
		{"files", "*", "/x", "/f//x"},
		{"files", "*", "../admin", ""},
		{"files", "*", "a/./b", ""},
		{"files", "*", "a/..", ""},
		{"files", "*", "a/..b/...", "/f/a/..b/..."},
		{"param", "a", "..", ""},
		{"param", "a", ".", ""},
		{"param", "a", "...", "/p/.../t"},
		// the pattern's own text, escaped as net/http writes a path
		{"literal", "a", "v", "/caf%C3%A9%20x/v"},
		{"question", "a", "v", "/q%3Fx/v"},
	} {
		t.Run(tc.route+" "+tc.value, func(t *testing.T) {
			u, err := r.URL(tc.route, tc.key, tc.value)
			if tc.want == "" {
				if !errors.Is(err, ErrInvalidParam) {
					t.Fatalf("URL = %q, %v; want ErrInvalidParam", u, err)
				}
				return
			}
			if err != nil || u != tc.want {
				t.Fatalf("URL = %q, %v; want %q", u, err, tc.want)
			}
			ref, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			if res := base.ResolveReference(ref); res.Host != "example.com" || res.EscapedPath() != u {
				t.Errorf("a client resolves %q to host %q path %q", u, res.Host, res.EscapedPath())
			}
			got = "<not routed>"
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", u, nil))
			if got != tc.value {
				t.Errorf("GET %s: value %q, want %q", u, got, tc.value)
			}
		})
	}
}
