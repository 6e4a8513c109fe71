package migrate

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/middleware"
)

func TestCompare(t *testing.T) {
	withHeader := func(r *Response, kv ...string) *Response {
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Add(kv[i], kv[i+1])
		}
		return r
	}
	status := func(code int, r *Response) *Response {
		r.Status = code
		return r
	}
	big := strings.Repeat("x", 100)
	truncated := func(body string) *Response {
		r := resp("application/json", body)
		r.Truncated, r.Size = true, 5000
		return r
	}
	for _, tc := range []struct {
		name   string
		py, gr *Response
		want   []string // pointers
	}{
		{"key order and whitespace", resp("application/json", `{"b": [1, 2], "a": {"x": null}}`), resp("application/json", `{"a":{"x":null},"b":[1,2]}`), nil},
		{"1.0 equals 1, 1e-07 equals 1e-7", resp("application/json", `{"price": 10.0, "ratio": 1e-07}`), resp("application/json", `{"ratio":1e-7,"price":10}`), nil},
		{"big integers compared exactly", resp("application/json", `{"big":1152921504606846976}`), resp("application/json", `{"big":1152921504606846977}`), []string{"/big"}},
		{"integers beyond int64 compared exactly", resp("application/json", `{"id":10000000000000000001,"neg":-10000000000000000001}`), resp("application/json", `{"id":10000000000000000000,"neg":-10000000000000000000}`), []string{"/id", "/neg"}},
		{"integers beyond int64, equal", resp("application/json", `{"id":123456789012345678901234567890}`), resp("application/json", `{"id":1.2345678901234567890123456789e29}`), nil},
		{"1, 1.0, 1e0 and 10E-1 are equal", resp("application/json", `[1, 1.0, 1e0, 10E-1, 100e-2]`), resp("application/json", `[1e0, 1, 1.000, 1, 1]`), nil},
		{"zero has no sign", resp("application/json", `[0, -0.0, 0e5]`), resp("application/json", `[-0, 0, 0.0]`), nil},
		{"decimals compared exactly, not as float64", resp("application/json", `{"x":0.1,"y":1e400,"z":2.5e-400}`), resp("application/json", `{"x":0.10000000000000001,"y":1e401,"z":25e-401}`), []string{"/x", "/y"}},
		{"the sign counts", resp("application/json", `[1.5, -2e3]`), resp("application/json", `[-1.5, -2000]`), []string{"/0"}},
		{"exponents beyond int64", resp("application/json", `[1e99999999999999999999, 1e99999999999999999999]`), resp("application/json", `[1E+99999999999999999999, 1e99999999999999999998]`), []string{"/1"}},
		{"escapes", resp("application/json", `{"name": "caf\u00e9 <b>&"}`), resp("application/json", `{"name":"café \u003cb\u003e\u0026"}`), nil},
		{"nested pointers, escaped keys", resp("application/json", `{"a/b":{"c~d":[1,2,3]}}`), resp("application/json", `{"a/b":{"c~d":[1,5]}}`), []string{"/a~1b/c~0d/1", "/a~1b/c~0d/2"}},
		{"missing and extra keys", resp("application/json", `{"a":1,"b":2}`), resp("application/json", `{"a":1,"c":3}`), []string{"/b", "/c"}},
		{"type change at the root", resp("application/json", `{}`), resp("application/json", `[]`), []string{"body"}},
		{"Go not JSON", resp("application/json", `{}`), resp("application/json", `<html>`), []string{"body"}},
		{"status", &Response{Status: 200, Header: http.Header{}}, &Response{Status: 404, Header: http.Header{}}, []string{"status"}},
		{"content type normalised", resp("application/json; charset=UTF-8", `1`), resp("application/json;charset=utf-8", `1`), nil},
		{"content type differs", resp("application/json", `1`), resp("text/plain; charset=utf-8", `1`), []string{"header:Content-Type"}},
		{"Set-Cookie by names and attributes, not values", withHeader(resp("text/plain", "x"), "Set-Cookie", "session=abc; Path=/", "Set-Cookie", "csrf=1"), withHeader(resp("text/plain", "x"), "Set-Cookie", "csrf=2", "Set-Cookie", "session=zzz; path=/"), nil},
		{"Set-Cookie attributes in any order and case", withHeader(resp("text/plain", "x"),
			"Set-Cookie", "s=1; Expires=Wed, 01 Dec 2100 12:00:00 GMT; Max-Age=100; Secure; HttpOnly; Path=/; Domain=.Example.com; SameSite=Lax",
			"Set-Cookie", "old=; expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0; Path=/"),
			withHeader(resp("text/plain", "x"),
				"Set-Cookie", "old=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=-1",
				"Set-Cookie", "s=2; Path=/; Domain=example.com; Max-Age=100; HttpOnly; Secure; SameSite=lax; expires=Fri, 03 Dec 2100 12:00:00 GMT"), nil},
		{"Set-Cookie deleted either way", withHeader(resp("text/plain", "x"), "Set-Cookie", "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/", "Set-Cookie", "b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
			withHeader(resp("text/plain", "x"), "Set-Cookie", "a=; Path=/; Max-Age=0", "Set-Cookie", "b=; Max-Age=-1"), nil},
		{"Set-Cookie Max-Age with or without Expires", withHeader(resp("text/plain", "x"), "Set-Cookie", "a=1; expires=Wed, 01 Dec 2100 12:00:00 GMT; Max-Age=600"),
			withHeader(resp("text/plain", "x"), "Set-Cookie", "a=2; Max-Age=600"), nil},
		{"Set-Cookie Max-Age differs", withHeader(resp("text/plain", "x"), "Set-Cookie", "a=1; Max-Age=600"), withHeader(resp("text/plain", "x"), "Set-Cookie", "a=1; Max-Age=60"), []string{"header:Set-Cookie"}},
		{"Set-Cookie session cookie against a persistent one", withHeader(resp("text/plain", "x"), "Set-Cookie", "a=1; Expires=Wed, 01 Dec 2100 12:00:00 GMT"), withHeader(resp("text/plain", "x"), "Set-Cookie", "a=1"), []string{"header:Set-Cookie"}},
		{"Set-Cookie attribute missing", withHeader(resp("text/plain", "x"), "Set-Cookie", "s=1; Path=/; HttpOnly"), withHeader(resp("text/plain", "x"), "Set-Cookie", "s=1; Path=/"), []string{"header:Set-Cookie"}},
		{"Set-Cookie deleted on one side", withHeader(resp("text/plain", "x"), "Set-Cookie", "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"), withHeader(resp("text/plain", "x"), "Set-Cookie", "s=; Expires=Wed, 01 Dec 2100 12:00:00 GMT"), []string{"header:Set-Cookie"}},
		{"Set-Cookie names differ", withHeader(resp("text/plain", "x"), "Set-Cookie", "session=abc"), resp("text/plain", "x"), []string{"header:Set-Cookie"}},
		{"Cache-Control order", withHeader(resp("text/plain", "x"), "Cache-Control", "no-cache, private"), withHeader(resp("text/plain", "x"), "Cache-Control", "Private,no-cache"), nil},
		{"Location", withHeader(resp("text/plain", ""), "Location", "/a"), withHeader(resp("text/plain", ""), "Location", "http://h/a"), []string{"header:Location"}},
		{"text line endings and trailing space", resp("text/html", "<p>\r\n  a  \r\n</p>\r\n\r\n"), resp("text/html", "<p>\n  a\n</p>\n"), nil},
		{"text lines", resp("text/html", "a\nb\nc"), resp("text/html", "a\nB\nc\nd"), []string{"body:line 2", "body:line 4"}},
		{"binary by hash", resp("image/png", "\x89PNG1"), resp("image/png", "\x89PNG2"), []string{"body"}},
		{"binary equal", resp("image/png", "\x89PNG1"), resp("image/png", "\x89PNG1"), nil},
		{"truncated bodies by hash", truncated(`{"a":1}`), truncated(`{"a":1}`), nil},
		{"truncated bodies differ", truncated(`{"a":1}`), truncated(`{"a":2}`), []string{"body"}},
		{"two 416s: error text, its type and nosniff not compared", withHeader(status(416, resp("text/html; charset=utf-8", "<title>416 Requested Range Not Satisfiable</title>")), "Cache-Control", "no-cache"),
			withHeader(status(416, resp("text/plain; charset=utf-8", "invalid range: failed to overlap\n")), "X-Content-Type-Options", "nosniff"), []string{"header:Cache-Control"}},
		{"two 416s: Content-Range compared, the only content of a 416", withHeader(status(416, resp("text/html; charset=utf-8", "<title>416</title>")), "Content-Range", "bytes */17"),
			withHeader(status(416, resp("text/plain; charset=utf-8", "invalid range\n")), "Content-Range", "bytes */18"), []string{"header:Content-Range"}},
		{"two 416s: Content-Range missing in Go", withHeader(status(416, resp("text/html; charset=utf-8", "")), "Content-Range", "bytes */17"),
			status(416, resp("text/plain; charset=utf-8", "")), []string{"header:Content-Range"}},
		{"two 416s: same Content-Range", withHeader(status(416, resp("text/html; charset=utf-8", "")), "Content-Range", "bytes */17"),
			withHeader(status(416, resp("text/plain; charset=utf-8", "x")), "Content-Range", "bytes */17"), nil},
		{"two 206s: Content-Range compared with the bytes", withHeader(status(206, resp("text/css", "body")), "Content-Range", "bytes 0-3/17"),
			withHeader(status(206, resp("text/css", "body")), "Content-Range", "bytes 0-3/18"), []string{"header:Content-Range"}},
		{"a 206 against a 200: Content-Range not compared", withHeader(status(206, resp("text/css", "body")), "Content-Range", "bytes 0-3/4"),
			resp("text/css", "body"), []string{"status"}},
		{"a 416 against a 200: all compared", status(416, resp("text/html; charset=utf-8", "<title>416</title>")),
			withHeader(resp("text/plain; charset=utf-8", "body"), "X-Content-Type-Options", "nosniff"), []string{"status", "header:Content-Type", "header:X-Content-Type-Options", "body:line 1"}},
		{"long values shortened", resp("application/json", `"`+big+big+big+`"`), resp("application/json", `""`), []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := Compare(tc.py, tc.gr, CompareOptions{})
			var got []string
			for _, d := range diffs {
				got = append(got, d.Pointer)
				if len(d.Python) > maxShown+30 {
					t.Errorf("value of %s not shortened: %d bytes", d.Pointer, len(d.Python))
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("pointers %v, want %v (diffs %+v)", got, tc.want, diffs)
			}
		})
	}
	t.Run("Location resolved against Base", func(t *testing.T) {
		base, _ := url.Parse("https://shop.example/a/b?x=1")
		for _, tc := range []struct {
			py, gr string
			same   bool
		}{
			{"https://shop.example/a/c", "/a/c", true},
			{"https://shop.example/a/c", "c", true},
			{"/a/c", "./d/../c", true},
			{"http://shop.example/a/c", "/a/c", false}, // another scheme
			{"https://other.example/a/c", "/a/c", false},
			{"/a/c", "/a/c?y=1", false},
		} {
			py := withHeader(resp("text/plain", ""), "Location", tc.py)
			gr := withHeader(resp("text/plain", ""), "Location", tc.gr)
			diffs := Compare(py, gr, CompareOptions{Base: base})
			if got := len(diffs) == 0; got != tc.same {
				t.Errorf("%q against %q: diffs %+v, want same %v", tc.py, tc.gr, diffs, tc.same)
			}
			if d := Compare(py, gr, CompareOptions{}); tc.py != tc.gr && len(d) != 1 {
				t.Errorf("%q against %q without Base: diffs %+v, want one", tc.py, tc.gr, d)
			}
		}
	})
	t.Run("MaxDiffs", func(t *testing.T) {
		a, b := resp("application/json", `[1,2,3,4,5]`), resp("application/json", `[5,4,3,2,1,0]`)
		if d := Compare(a, b, CompareOptions{MaxDiffs: 2}); len(d) != 2 {
			t.Fatalf("%d diffs", len(d))
		}
	})
	_ = sha256.Size
}

func TestIgnored(t *testing.T) {
	list := []string{"/generated_at", "/meta", "ETag"}
	for p, want := range map[string]bool{
		"/generated_at": true, "/generated_at_x": false, "/meta/a/b": true, "/metadata": false,
		"header:Etag": true, "header:Date": false, "status": false,
	} {
		if got := ignored(list, p); got != want {
			t.Errorf("ignored(%q) = %v", p, got)
		}
	}
}

// TestCompareCookieLifetime: a cookie's lifetime is compared by what it
// does in a browser. An Expires alone is read against the response's Date
// header, else the time it was received, and matches a Max-Age of the
// same number of seconds within CookieLifetimeSlack (Flask's permanent
// session cookie against a Go port's MaxAge); 31 days against 30 do not
// match, nor do two Max-Age values a second apart.
func TestCompareCookieLifetime(t *testing.T) {
	at := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	month := 31 * 24 * time.Hour
	date := func(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
	cookie := func(received time.Time, kv ...string) *Response {
		r := resp("text/plain", "x")
		r.Received = received
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Add(kv[i], kv[i+1])
		}
		return r
	}
	flask := func(received, expires time.Time) *Response { // a permanent session
		return cookie(received, "Set-Cookie", "session=eyJ1Ijox.Z2xA.abc; Expires="+date(expires)+"; HttpOnly; Path=/")
	}
	goMaxAge := func(d time.Duration) *Response {
		return cookie(at, "Set-Cookie", "session=go; Path=/; Max-Age="+strconv.Itoa(int(d.Seconds()))+"; HttpOnly")
	}
	for _, tc := range []struct {
		name   string
		py, gr *Response
		same   bool
		shown  string // in the Python side's value, when not same
	}{
		{"Flask's Expires 31 days on against Max-Age 31 days", flask(at, at.Add(month)), goMaxAge(month), true, ""},
		{"received 2 s apart, Expires a second short", flask(at.Add(2*time.Second), at.Add(month-time.Second)), goMaxAge(month), true, ""},
		{"Max-Age and Expires on the Go side", flask(at, at.Add(month)),
			cookie(at, "Set-Cookie", "session=go; Path=/; Expires="+date(at.Add(month))+"; Max-Age=2678400; HttpOnly"), true, ""},
		{"Expires on both sides, received a minute apart", flask(at, at.Add(month)),
			cookie(at.Add(time.Minute), "Set-Cookie", "session=go; Path=/; Expires="+date(at.Add(time.Minute+month))+"; HttpOnly"), true, ""},
		{"read against the Date header", cookie(time.Time{}, "Date", date(at.Add(-time.Hour)), "Set-Cookie", "s=1; Expires="+date(at.Add(-time.Hour+month))),
			cookie(at, "Set-Cookie", "s=1; Max-Age=2678400"), true, ""},
		{"31 days against 30", flask(at, at.Add(month)), goMaxAge(30 * 24 * time.Hour), false, "Expires in 2678400s"},
		{"a minute apart", flask(at, at.Add(month)), goMaxAge(month - time.Minute), false, "Expires in 2678400s"},
		{"Max-Age exactly", goMaxAge(month), goMaxAge(month - time.Second), false, "Max-Age=2678400"},
		{"Max-Age beyond a Duration, as written", cookie(at, "Set-Cookie", "s=1; Max-Age=9000000000000"),
			cookie(at, "Set-Cookie", "s=1; Max-Age=9000000000001"), false, "Max-Age=9000000000000"},
		{"Expires against a session cookie", flask(at, at.Add(month)), cookie(at, "Set-Cookie", "session=go; Path=/; HttpOnly"), false, "Expires in 2678400s"},
		{"deleted either way", cookie(at, "Set-Cookie", "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"),
			cookie(at, "Set-Cookie", "s=; Path=/; Max-Age=0"), true, ""},
		{"an Expires at the response's time deletes", cookie(at, "Set-Cookie", "s=; Expires="+date(at)),
			cookie(at, "Set-Cookie", "s=; Max-Age=-1"), true, ""},
		{"deleted against a lifetime", cookie(at, "Set-Cookie", "s=; Expires="+date(at.Add(-time.Second))),
			cookie(at, "Set-Cookie", "s=1; Max-Age=1"), false, "deleted"},
		{"two cookies of one name, in any order", cookie(at, "Set-Cookie", "s=1; Path=/a; Max-Age=60", "Set-Cookie", "s=2; Path=/a; Expires="+date(at.Add(time.Hour))),
			cookie(at, "Set-Cookie", "s=3; Path=/a; Max-Age=3600", "Set-Cookie", "s=4; Path=/a; Expires="+date(at.Add(time.Minute))), true, ""},
		{"a Netscape date with a two-digit year", cookie(at, "Set-Cookie", "s=1; expires="+at.Add(month).Format("Mon, 02-Jan-06 15:04:05 MST")),
			cookie(at, "Set-Cookie", "s=1; Max-Age=2678400"), true, ""},
		{"an Expires that is not a date is not a lifetime", cookie(at, "Set-Cookie", "s=1; Expires=soon"),
			cookie(at, "Set-Cookie", "s=1; Max-Age=2678400"), false, "Expires (not a date)"},
		// RFC 6265 5.2.2: a Max-Age that is not ["-"]DIGIT*DIGIT is
		// ignored, and the cookie's lifetime is what the rest says.
		{"Max-Age=+100 is ignored: a session cookie", cookie(at, "Set-Cookie", "s=1; Max-Age=+100"),
			cookie(at, "Set-Cookie", "s=1"), true, ""},
		{"Max-Age=+100 is not 100", cookie(at, "Set-Cookie", "s=1; Max-Age=100"),
			cookie(at, "Set-Cookie", "s=1; Max-Age=+100"), false, "Max-Age=100"},
		{"Max-Age=+0 deletes nothing", cookie(at, "Set-Cookie", "s=; Max-Age=0"),
			cookie(at, "Set-Cookie", "s=; Max-Age=+0"), false, "deleted"},
		{"an ignored Max-Age leaves Expires", flask(at, at.Add(month)),
			cookie(at, "Set-Cookie", "session=go; Path=/; Expires="+date(at.Add(month))+"; Max-Age=+5; HttpOnly"), true, ""},
		{"an ignored later Max-Age leaves the earlier", cookie(at, "Set-Cookie", "s=1; Max-Age=100; Max-Age=+5"),
			cookie(at, "Set-Cookie", "s=1; Max-Age=100"), true, ""},
		{"Max-Age with a unit is ignored", cookie(at, "Set-Cookie", "s=1; Max-Age=100s"), cookie(at, "Set-Cookie", "s=1"), true, ""},
		{"Max-Age with a fraction is ignored", cookie(at, "Set-Cookie", "s=1; Max-Age=1.5"), cookie(at, "Set-Cookie", "s=1"), true, ""},
		{"Max-Age=- is ignored", cookie(at, "Set-Cookie", "s=1; Max-Age=-"), cookie(at, "Set-Cookie", "s=1"), true, ""},
		{"Max-Age=-x is ignored", cookie(at, "Set-Cookie", "s=1; Max-Age=-x"), cookie(at, "Set-Cookie", "s=1"), true, ""},
		{"an empty Max-Age is ignored", cookie(at, "Set-Cookie", "s=1; Max-Age="), cookie(at, "Set-Cookie", "s=1; max-age"), true, ""},
		{"Max-Age=0100 is 100, in base 10", cookie(at, "Set-Cookie", "s=1; Max-Age=0100"), cookie(at, "Set-Cookie", "s=1; Max-Age=100"), true, ""},
		{"Max-Age=-5 deletes", cookie(at, "Set-Cookie", "s=; Max-Age=-5"), cookie(at, "Set-Cookie", "s=; Max-Age=0"), true, ""},
		{"a Max-Age beyond int64 is a lifetime", cookie(at, "Set-Cookie", "s=1; Max-Age=99999999999999999999"),
			cookie(at, "Set-Cookie", "s=1"), false, "Max-Age=9223372036854775807"},
		{"a Max-Age below int64 deletes", cookie(at, "Set-Cookie", "s=; Max-Age=-99999999999999999999"),
			cookie(at, "Set-Cookie", "s=; Max-Age=0"), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := Compare(tc.py, tc.gr, CompareOptions{})
			if tc.same {
				if len(diffs) != 0 {
					t.Fatalf("diffs %+v, want none", diffs)
				}
				return
			}
			if len(diffs) != 1 || diffs[0].Pointer != "header:Set-Cookie" {
				t.Fatalf("diffs %+v, want one on header:Set-Cookie", diffs)
			}
			if !strings.Contains(diffs[0].Python, tc.shown) || strings.Contains(diffs[0].Python+diffs[0].Go, "eyJ") {
				t.Fatalf("Python %q, Go %q: want %q shown and no value", diffs[0].Python, diffs[0].Go, tc.shown)
			}
		})
	}
}

// A Location is resolved against the scheme the app sees
// (wsgi.url_scheme), which a trusted proxy's scheme headers give, each of
// gunicorn's secure_scheme_headers as graft's middleware reads them: the
// app's absolute "https://shop.example/a" and Go's "/a" go to the same
// place behind a proxy that writes X-Forwarded-Ssl: on.
func TestRequestBaseSchemeFromTrustedProxy(t *testing.T) {
	trusted := middleware.MustParseProxies("10.0.0.0/8")
	for _, tc := range []struct {
		name, peer string
		header     map[string]string
		want       string
	}{
		{"x-forwarded-proto", "10.0.0.1:1", map[string]string{"X-Forwarded-Proto": "https"}, "https"},
		{"x-forwarded-ssl", "10.0.0.1:1", map[string]string{"X-Forwarded-Ssl": "on"}, "https"},
		{"x-forwarded-protocol", "10.0.0.1:1", map[string]string{"X-Forwarded-Protocol": "ssl"}, "https"},
		{"untrusted peer", "203.0.113.9:1", map[string]string{"X-Forwarded-Ssl": "on"}, "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var base *url.URL
			h := middleware.TrustProxies(trusted)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { base = requestBase(r) }))
			req := httptest.NewRequest("GET", "/a/b", nil)
			req.Host, req.RemoteAddr = "shop.example", tc.peer
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if base == nil || base.String() != tc.want+"://shop.example/a/b" {
				t.Fatalf("base %v, want %s://shop.example/a/b", base, tc.want)
			}
			py, gr := resp("text/plain", ""), resp("text/plain", "")
			py.Header.Set("Location", "https://shop.example/a")
			gr.Header.Set("Location", "/a")
			if same := len(Compare(py, gr, CompareOptions{Base: base})) == 0; same != (tc.want == "https") {
				t.Errorf("https://shop.example/a against /a: same %v, want %v", same, tc.want == "https")
			}
		})
	}
}

// TestValidatorsOnly checks the rule that sends a conditional request's
// answers to be compared whole: each side's status must be what its own
// validators call for.
func TestValidatorsOnly(t *testing.T) {
	const (
		pyTag, goTag = `"1796186219.4659276-60-4130740230"`, `"dn9yvht04ygh-1o"`
		lm, later    = "Wed, 02 Dec 2026 04:36:59 GMT", "Wed, 02 Dec 2026 05:00:00 GMT"
	)
	ans := func(status int, etag string) *Response {
		h := http.Header{"Last-Modified": {lm}}
		if etag != "" {
			h.Set("Etag", etag)
		}
		return &Response{Status: status, Header: h}
	}
	for _, tc := range []struct {
		name   string
		method string
		req    []string
		py, gr *Response
		want   bool
	}{
		{"python's etag: 304 against 200", "GET", []string{"If-None-Match", pyTag}, ans(304, pyTag), ans(200, goTag), true},
		{"go's etag: 200 against 304", "HEAD", []string{"If-None-Match", goTag}, ans(200, pyTag), ans(304, goTag), true},
		{"weak etag in a list", "GET", []string{"If-None-Match", `"x", W/` + pyTag}, ans(304, pyTag), ans(200, goTag), true},
		{"etag wins over the date", "GET", []string{"If-None-Match", pyTag, "If-Modified-Since", lm}, ans(304, pyTag), ans(200, goTag), true},
		{"304 against 206", "GET", []string{"If-None-Match", pyTag, "Range", "bytes=0-9"}, ans(304, pyTag), ans(206, goTag), true},
		{"if-range: 206 against 200", "GET", []string{"Range", "bytes=0-9", "If-Range", pyTag}, ans(206, pyTag), ans(200, goTag), true},
		{"if-range date: 206 against 200 of a later file", "GET", []string{"Range", "bytes=0-9", "If-Range", lm}, ans(206, pyTag), &Response{Status: 200, Header: http.Header{"Last-Modified": {later}}}, true},

		{"same status", "GET", []string{"If-None-Match", pyTag}, ans(200, pyTag), ans(200, goTag), false},
		{"not conditional", "GET", nil, ans(304, pyTag), ans(200, goTag), false},
		{"not GET or HEAD", "POST", []string{"If-None-Match", pyTag}, ans(304, pyTag), ans(200, goTag), false},
		{"304 for an etag it does not send", "GET", []string{"If-None-Match", pyTag}, ans(304, goTag), ans(200, goTag), false},
		{"200 for its own etag", "GET", []string{"If-None-Match", goTag}, ans(304, pyTag), ans(200, goTag), false},
		{"200 to a date its file is not after", "GET", []string{"If-Modified-Since", lm}, ans(304, pyTag), ans(200, goTag), false},
		{"404 against 304", "GET", []string{"If-None-Match", pyTag}, ans(304, pyTag), ans(404, ""), false},
		{"412 against 200", "GET", []string{"If-None-Match", pyTag}, ans(412, pyTag), ans(200, goTag), false},
		{"range ignored by one side", "GET", []string{"Range", "bytes=0-9", "If-None-Match", `"other"`}, ans(206, pyTag), ans(200, goTag), false},
		{"206 for an if-range it does not match", "GET", []string{"Range", "bytes=0-9", "If-Range", goTag}, ans(206, pyTag), ans(200, goTag), false},
		{"weak if-range", "GET", []string{"Range", "bytes=0-9", "If-Range", "W/" + pyTag}, ans(206, pyTag), ans(200, goTag), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := http.Header{}
			for i := 0; i+1 < len(tc.req); i += 2 {
				req.Add(tc.req[i], tc.req[i+1])
			}
			if got := validatorsOnly(tc.method, req, tc.py, tc.gr); got != tc.want {
				t.Fatalf("validatorsOnly = %v, want %v", got, tc.want)
			}
		})
	}
}
