package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzParseFile checks the stages-file parser: an error names its line;
// what parses passes Check, has no duplicate route and a percent in
// range; and the file the Migrator writes back (json.MarshalIndent, as
// writeBackLocked does) parses again to the same stages.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		`{"force_python": false, "routes": [{"route": "GET /api/users/{id}", "stage": "canary", "percent": 25, "sticky": "cookie:session", "shadow_sample": 0.1, "ignore": ["/generated_at"]}]}`,
		`{"routes": []}`,
		`{"force_python": true}`,
		`{"routes": [{"route": "get /x", "stage": "shadow", "headers": ["ETag"], "shadow_unsafe": true, "noise_sample": 0.5}]}`,
		"{\"routes\": [\n{\"route\": \"GET /x\", \"stage\": \"pyhton\"}]}",
		`{"routes": [{"route": "GET /x"}, {"route": "GET /x"}]}`,
		`{"routes": [{"route": "GET /x", "percent": 1e400}]}`,
		`{"routes": [{"route": "GET /x", "ignore": [""]}]} trailing`,
		`[`, ``, `null`, `{"routes": {}}`,
		`{"routes": [{"route": "GET /x", "stage": "canary", "percent": 12.34}], "rollbacks": {"get /x": {"reason": "5xx", "at": "2026-01-02T03:04:05.123456789+02:00"}}}`,
		`{"routes": [{"route": "GET /x", "ignore": [], "headers": []}], "rollbacks": {}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "migrate: stages file line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, rc := range file.Routes {
			if err := rc.Check(); err != nil {
				t.Fatalf("parsed route fails Check: %v", err)
			}
			if seen[rc.Route] {
				t.Fatalf("duplicate route %q accepted", rc.Route)
			}
			seen[rc.Route] = true
			if rc.Percent < 0 || rc.Percent > 100 {
				t.Fatalf("percent %v accepted", rc.Percent)
			}
		}
		written, err := json.MarshalIndent(file, "", "  ")
		if err != nil {
			t.Fatalf("writing back %+v: %v", file, err)
		}
		again, err := ParseFile(written)
		if err != nil {
			t.Fatalf("the file written back does not parse: %v\n%s", err, written)
		}
		if rewritten, _ := json.MarshalIndent(again, "", "  "); !bytes.Equal(rewritten, written) {
			t.Fatalf("the file written back parses to other stages:\n%s\nthen\n%s", written, rewritten)
		}
	})
}

func resp(ct, body string) *Response {
	r := &Response{Status: 200, Header: http.Header{"Content-Type": {ct}}, Body: []byte(body), Size: int64(len(body))}
	r.Sum = sha256.Sum256(r.Body)
	return r
}

func FuzzCompareJSON(f *testing.F) {
	for _, p := range [][2]string{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1.0}`},
		{`{"price": 10.0, "ratio": 1e-07}`, `{"ratio":1e-7,"price":10}`},
		{`{"big":1152921504606846976}`, `{"big":1152921504606846977}`},
		{`{"a/b":{"c~d":null}}`, `{"a/b":{"c~d":false}}`},
		{`[1,"x",{"y":[]}]`, `[1,"x",{"y":[0]},2]`},
		{`"caf\u00e9 <b>&"`, `"café \u003cb\u003e\u0026"`},
		{`{"a":1}`, `not json`},
		{`1e999999999`, `2`},
		{`{"id":10000000000000000001}`, `{"id":10000000000000000000}`},
		{`[1, 1.0, 1e0, -0.0]`, `[10E-1, 1, 100e-2, 0]`},
		{`[0.1, 1e400]`, `[0.10000000000000001, 10e399]`},
		{`1e99999999999999999999`, `1E+99999999999999999999`},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ra, rb := resp("application/json", a), resp("application/json", b)
		if d := Compare(ra, ra, CompareOptions{}); len(d) != 0 {
			t.Fatalf("a body differs from itself: %v", d)
		}
		ab := Compare(ra, rb, CompareOptions{MaxDiffs: 1000})
		ba := Compare(rb, ra, CompareOptions{MaxDiffs: 1000})
		if (len(ab) == 0) != (len(ba) == 0) {
			t.Fatalf("not symmetric: %v / %v", ab, ba)
		}
		for _, d := range ab {
			if d.Pointer != "body" && d.Pointer != "status" && !strings.HasPrefix(d.Pointer, "/") && !strings.HasPrefix(d.Pointer, "body:line ") && !strings.HasPrefix(d.Pointer, "header:") {
				t.Fatalf("bad pointer %q", d.Pointer)
			}
			if len(d.Python) > maxShown+40 || len(d.Go) > maxShown+40 {
				t.Fatalf("value not shortened: %d/%d bytes", len(d.Python), len(d.Go))
			}
		}
	})
}

// FuzzRedactJSON checks the redaction of JSON texts: valid JSON stays
// valid, a text without a secret key comes back unchanged, and no value
// of a secret key survives.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"password":"x"}`, `[{"token":{"v":[1,2]}},{"name":"password"}]`, `{"user":{"password":"abc`,
		`{"a":{"b":"c"},"secret":null}`, `"password"`, `{}`, `[]`, `{"api\u005fkey":"x"}`,
	} {
		f.Add([]byte(s))
	}
	r := newRedactor(nil, DefaultOverrideHeader)
	f.Fuzz(func(t *testing.T, in []byte) {
		out := r.json(in)
		var v any
		if json.Unmarshal(in, &v) != nil {
			return
		}
		var w any
		if err := json.Unmarshal(out, &w); err != nil {
			t.Fatalf("redacting valid JSON %s gave invalid JSON %s: %v", in, out, err)
		}
		var walk func(v any) bool // reports whether v has a secret key
		walk = func(v any) bool {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					if r.secret(k) {
						if e != redacted {
							t.Fatalf("secret key %q kept its value %v in %s", k, e, out)
						}
						return true
					}
					if walk(e) {
						return true
					}
				}
			case []any:
				for _, e := range x {
					if walk(e) {
						return true
					}
				}
			}
			return false
		}
		if !walk(w) && !bytes.Equal(in, out) {
			t.Fatalf("no secret in %s, but it became %s", in, out)
		}
	})
}

// FuzzCookieMaxAge checks how a Set-Cookie's Max-Age is read against RFC
// 6265 section 5.2.2 (as RFC 6265bis words it): a value that is not
// ["-"]DIGIT*DIGIT (after the surrounding spaces) is ignored, so that the
// cookie is the same as without it; any other is a lifetime of that many
// seconds (cut to int64) or, at 0 or less, a deletion. Nothing panics.
func FuzzCookieMaxAge(f *testing.F) {
	for _, s := range []string{"100", "+100", "+0", "-", "", "1.5", "10s", "0100", " 7 ", "-5", "-x",
		"99999999999999999999", "-99999999999999999999", "٣", "1_000", "0x10"} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^-?[0-9]+$`)
	ref := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	without := parseCookie("s=1; Path=/; Expires=Wed, 01 Dec 2100 12:00:00 GMT", ref)
	f.Fuzz(func(t *testing.T, v string) {
		parseCookie(v, ref)
		if strings.ContainsAny(v, ";") {
			return
		}
		got := parseCookie("s=1; Path=/; Max-Age="+v+"; Expires=Wed, 01 Dec 2100 12:00:00 GMT", ref)
		val := strings.TrimSpace(v)
		if !valid.MatchString(val) {
			if !reflect.DeepEqual(got, without) {
				t.Fatalf("Max-Age=%q: %+v, want it ignored: %+v", v, got, without)
			}
			return
		}
		n, ok := new(big.Int).SetString(val, 10)
		if !ok {
			t.Fatalf("%q is not a base-10 number", val)
		}
		switch {
		case n.Sign() <= 0:
			if got.kind != lifeDeleted {
				t.Fatalf("Max-Age=%q: %+v, want deleted", v, got)
			}
		case got.kind != lifeMaxAge:
			t.Fatalf("Max-Age=%q: %+v, want a Max-Age lifetime", v, got)
		case n.IsInt64() && got.maxAge != n.Int64(), !n.IsInt64() && got.maxAge != math.MaxInt64:
			t.Fatalf("Max-Age=%q: %d seconds", v, got.maxAge)
		}
	})
}

// FuzzValidatorsOnly checks the rule that compares a conditional
// request's answers whole, on any header values: it never panics, it does
// not depend on which side is Python's, and it holds only for a GET or
// HEAD whose two answers differ in status, one of them 304 or 206 and
// neither anything but 200, 206 or 304.
func FuzzValidatorsOnly(f *testing.F) {
	const tag, date = `"dn9yvht04ygh-1o"`, "Wed, 02 Dec 2026 04:36:59 GMT"
	f.Add("GET", tag, "", "", "", 304, tag, date, 200, `"other"`, date)
	f.Add("HEAD", "", date, "", "", 304, tag, date, 200, tag, "Wed, 02 Dec 2026 05:00:00 GMT")
	f.Add("GET", "", "", tag, "bytes=0-9", 206, tag, date, 200, `"x"`, date)
	f.Add("GET", `W/"a", *`, "not a date", date, "bytes=-0", 304, `W/"a"`, "", 206, "", date)
	f.Add("POST", tag, "", "", "", 304, tag, date, 200, `"other"`, date)
	f.Fuzz(func(t *testing.T, method, inm, ims, ifRange, rng string, s1 int, etag1, lm1 string, s2 int, etag2, lm2 string) {
		req := http.Header{}
		for k, v := range map[string]string{"If-None-Match": inm, "If-Modified-Since": ims, "If-Range": ifRange, "Range": rng} {
			if v != "" {
				req.Set(k, v)
			}
		}
		a := &Response{Status: s1, Header: http.Header{"Etag": {etag1}, "Last-Modified": {lm1}}}
		b := &Response{Status: s2, Header: http.Header{"Etag": {etag2}, "Last-Modified": {lm2}}}
		got := validatorsOnly(method, req, a, b)
		if got != validatorsOnly(method, req, b, a) {
			t.Fatalf("validatorsOnly depends on the order of the sides")
		}
		if !got {
			return
		}
		partial := func(s int) bool { return s == http.StatusNotModified || s == http.StatusPartialContent }
		if method != http.MethodGet && method != http.MethodHead || s1 == s2 ||
			!(partial(s1) || partial(s2)) || !(partial(s1) || s1 == 200) || !(partial(s2) || s2 == 200) {
			t.Fatalf("validatorsOnly holds for %s with statuses %d and %d", method, s1, s2)
		}
	})
}
