package migrate

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
)

// TestCompareVary: Vary is compared by default, as the set of header
// names it lists, and Content-Language as the set of tags: a Go port that
// loses Python's "Vary: Cookie" (or "Vary: Accept-Language") lets a shared
// cache give one user's (one language's) page to another, and is a
// mismatch; spelling, order and repeats are not. Accept-Encoding is left
// out unless Content-Encoding is compared: a side that compresses must
// vary on it, the other need not.
func TestCompareVary(t *testing.T) {
	with := func(kv ...string) *Response {
		r := resp("text/plain", "x")
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Add(kv[i], kv[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		py, gr  *Response
		headers []string // nil: the defaults
		want    []string
		shown   [2]string // the values shown for the first diff, if any
	}{
		{"Vary: Cookie lost", with("Vary", "Cookie"), with(), nil, []string{"header:Vary"}, [2]string{"cookie", missing}},
		{"Vary: Accept-Language lost", with("Vary", "Accept-Language"), with(), nil, []string{"header:Vary"}, [2]string{"accept-language", missing}},
		{"Vary added by Go only", with(), with("Vary", "Cookie"), nil, []string{"header:Vary"}, [2]string{missing, "cookie"}},
		{"Vary other name", with("Vary", "Cookie"), with("Vary", "Accept"), nil, []string{"header:Vary"}, [2]string{"cookie", "accept"}},
		{"Vary order, case, spacing, lines, repeats", with("Vary", "Cookie, Accept-Language"), with("Vary", "accept-language", "Vary", " cookie ,COOKIE,,"), nil, nil, [2]string{}},
		{"Vary star stands alone", with("Vary", "*"), with("Vary", "Cookie, *"), nil, nil, [2]string{}},
		{"Vary star against names", with("Vary", "*"), with("Vary", "Cookie"), nil, []string{"header:Vary"}, [2]string{"*", "cookie"}},
		{"Vary: Accept-Encoding on one side only", with(), with("Vary", "Accept-Encoding"), nil, nil, [2]string{}},
		{"Vary: Accept-Encoding beside Cookie on one side", with("Vary", "Cookie"), with("Vary", "Accept-Encoding, Cookie"), nil, nil, [2]string{}},
		{"Vary: Accept-Encoding when Content-Encoding is compared", with(), with("Vary", "Accept-Encoding"), []string{"Vary", "Content-Encoding"}, []string{"header:Vary"}, [2]string{missing, "accept-encoding"}},
		{"Vary not listed in the route's headers", with("Vary", "Cookie"), with(), []string{"Content-Type"}, nil, [2]string{}},
		{"Content-Language lost", with("Content-Language", "en-us"), with(), nil, []string{"header:Content-Language"}, [2]string{"en-us", missing}},
		{"Content-Language other language", with("Content-Language", "en-us"), with("Content-Language", "fr"), nil, []string{"header:Content-Language"}, [2]string{"en-us", "fr"}},
		{"Content-Language tags in any case and order", with("Content-Language", "en-US, fr"), with("Content-Language", "FR", "Content-Language", "en-us"), nil, nil, [2]string{}},
		{"missing on both sides", with(), with(), nil, nil, [2]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := Compare(tc.py, tc.gr, CompareOptions{Headers: tc.headers})
			var got []string
			for _, d := range diffs {
				got = append(got, d.Pointer)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("pointers %v, want %v (diffs %+v)", got, tc.want, diffs)
			}
			if len(diffs) > 0 && (diffs[0].Python != tc.shown[0] || diffs[0].Go != tc.shown[1]) {
				t.Errorf("shown %q / %q, want %q / %q", diffs[0].Python, diffs[0].Go, tc.shown[0], tc.shown[1])
			}
		})
	}
	if !reflect.DeepEqual(Compare(with("Vary", "Cookie"), with(), CompareOptions{Headers: DefaultCompareHeaders()}), Compare(with("Vary", "Cookie"), with(), CompareOptions{})) {
		t.Error("nil Headers differs from DefaultCompareHeaders()")
	}
}

// TestShadowVary compares the Vary and Content-Language of real Flask
// and Django answers with Go ports in shadow: Flask's "Vary: Cookie" on a
// view that reads the session, Django's LocaleMiddleware's
// "Vary: Accept-Language" and Content-Language. A port that loses them is
// a mismatch (until 2026-12-02 it matched); one that writes them
// otherwise is not. fallback.Static's "Vary: Accept-Encoding" for a file
// with a precompressed variant, which Flask's static view never sends, is
// no mismatch either.
func TestShadowVary(t *testing.T) {
	flask := startPython(t, "flaskmig:app")
	django := startPython(t, "djangoi18n.wsgi:application")
	staticDir := t.TempDir()
	css, err := os.ReadFile("testdata/flaskmig/static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(css)
	zw.Close()
	for name, data := range map[string][]byte{"app.css": css, "app.css.gz": gz.Bytes()} {
		if err := os.WriteFile(filepath.Join(staticDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	static, err := fallback.NewStaticDir(staticDir)
	if err != nil {
		t.Fatal(err)
	}
	static.Prefix, static.MaxAge, static.Logger = "/static/", -1, discardLogger()

	jsonOK := func(hdr ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Add(hdr[i], hdr[i+1])
			}
			writeJSONBody(w, `{"ok": true}`)
		}
	}
	whoami := func(hdr ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Add(hdr[i], hdr[i+1])
			}
			writeJSONBody(w, `{"user": null}`)
		}
	}
	for _, tc := range []struct {
		name, route, path string
		py                http.Handler
		goH               http.Handler
		hdr               []string
		pointers          []string // nil: a match
	}{
		{"flask session view, Vary lost", "GET /api/whoami", "/api/whoami", flask, whoami(), nil, []string{"header:Vary"}},
		{"flask session view, Vary kept", "GET /api/whoami", "/api/whoami", flask, whoami("Vary", "cookie"), nil, nil},
		{"flask session view, Vary kept beside Accept-Encoding", "GET /api/whoami", "/api/whoami", flask, whoami("Vary", "Accept-Encoding", "Vary", "Cookie"), nil, nil},
		{"django LocaleMiddleware, both lost", "GET /api/lang/", "/api/lang/", django, jsonOK(), nil, []string{"header:Content-Language", "header:Vary"}},
		{"django LocaleMiddleware, Vary lost", "GET /api/lang/", "/api/lang/", django, jsonOK("Content-Language", "en-US"), nil, []string{"header:Vary"}},
		{"django LocaleMiddleware, kept", "GET /api/lang/", "/api/lang/", django, jsonOK("Content-Language", "en-US", "Vary", "Accept-Language"), nil, nil},
		{"django LocaleMiddleware, French asked", "GET /api/lang/", "/api/lang/", django, jsonOK("Content-Language", "en-us", "Vary", "Accept-Language"), []string{"Accept-Language", "fr"}, []string{"header:Content-Language"}},
		{"django i18n_patterns, no Vary", "GET /fr/shop/me/", "/fr/shop/me/", django, jsonOK("Content-Language", "fr"), nil, nil},
		{"django i18n_patterns, Vary added by Go", "GET /fr/shop/me/", "/fr/shop/me/", django, jsonOK("Content-Language", "fr", "Vary", "Accept-Language"), nil, []string{"header:Vary"}},
		{"static precompressed against flask", "GET /static/*", "/static/app.css", flask, static, []string{"Accept-Encoding", "gzip"}, nil},
		{"static precompressed against flask, identity", "GET /static/*", "/static/app.css", flask, static, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, pattern, _ := strings.Cut(tc.route, " ")
			e := newEnv(t, tc.py, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: tc.route, Stage: StageShadow}}},
				func(r *router.Router) { r.Get(pattern, tc.goH.ServeHTTP) })
			e.exchange(t, http.MethodGet, tc.path, "", tc.hdr...)
			e.settle()
			st, _ := e.m.Route(tc.route)
			var got []string
			for k := range st.MismatchPointers {
				got = append(got, k)
			}
			slices.Sort(got)
			if tc.pointers == nil {
				if st.Counts.Matched != 1 {
					t.Fatalf("counts %+v, diffs %+v: want a match", st.Counts, st.RecentMismatches)
				}
				return
			}
			if st.Counts.Mismatched != 1 || !slices.Equal(got, tc.pointers) {
				t.Fatalf("counts %+v, pointers %v (diffs %+v): want one mismatch at %v", st.Counts, got, st.RecentMismatches, tc.pointers)
			}
		})
	}
}

// TestCompareIgnoreVary: CompareOptions.IgnoreVary leaves names out of
// Vary on both sides, in any case; the other names are still compared.
func TestCompareIgnoreVary(t *testing.T) {
	with := func(vary ...string) *Response {
		r := resp("text/plain", "x")
		for _, v := range vary {
			r.Header.Add("Vary", v)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		py, gr *Response
		ignore []string
		shown  [2]string // the Vary diff's values; zero: none
	}{
		{"ignored name lost", with("Accept-Language"), with(), []string{"Accept-Language"}, [2]string{}},
		{"ignored name in any case", with("ACCEPT-LANGUAGE, Cookie"), with("cookie"), []string{"accept-language"}, [2]string{}},
		{"ignored name added by Go", with(), with("Accept-Language"), []string{"Accept-Language"}, [2]string{}},
		{"Cookie still compared", with("Accept-Language, Cookie"), with(), []string{"Accept-Language"}, [2]string{"cookie", missing}},
		{"Cookie added by Go still compared", with("Accept-Language"), with("Cookie"), []string{"Accept-Language"}, [2]string{missing, "cookie"}},
		{"star still compared", with("*"), with(), []string{"Accept-Language"}, [2]string{"*", missing}},
		{"no ignore", with("Accept-Language"), with(), nil, [2]string{"accept-language", missing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := Compare(tc.py, tc.gr, CompareOptions{IgnoreVary: tc.ignore})
			var got [2]string
			for _, d := range diffs {
				if d.Pointer != "header:Vary" {
					t.Fatalf("diff %+v, want none but Vary", d)
				}
				got = [2]string{d.Python, d.Go}
			}
			if got != tc.shown {
				t.Fatalf("Vary diff %q, want %q (diffs %+v)", got, tc.shown, diffs)
			}
		})
	}
}

// TestIgnoreVaryEntry: the ignore entries "Vary: Name" are checked where
// every entry is (the stages file, the admin API), with an error naming
// the entry when malformed.
func TestIgnoreVaryEntry(t *testing.T) {
	for _, tc := range []struct {
		entry string
		name  string // what varyIgnored keeps
		err   string // "": valid
	}{
		{"Vary: Accept-Language", "accept-language", ""},
		{"vary:accept-language", "accept-language", ""},
		{"  VARY :  Cookie ", "cookie", ""},
		{"Vary", "", ""},          // the whole header
		{"/generated_at", "", ""}, // a JSON pointer
		{"/a:b", "", ""},          // a JSON pointer with a colon
		{"Vary:", "", `ignore entry "Vary:" does not name one header field after "Vary:"`},
		{"Vary: Accept-Language, Cookie", "", `does not name one header field`},
		{"Vary: *", "", `does not name one header field`},
		{"Cache-Control: private", "", `ignore entry "Cache-Control: private": only Vary takes a field name after ":"`},
		{": Cookie", "", `only Vary takes a field name`},
		{"X Y", "", `is neither a JSON pointer`},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			c := RouteConfig{Route: "GET /x", Ignore: []string{tc.entry}}
			err := c.Check()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Check: %v, want valid", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "migrate: ")):
				t.Fatalf("Check: %v, want an error with %q", err, tc.err)
			}
			var want []string
			if tc.name != "" {
				want = []string{tc.name}
			}
			if got := varyIgnored(c.Ignore); !slices.Equal(got, want) {
				t.Errorf("varyIgnored = %q, want %q", got, want)
			}
		})
	}
	// The stages file refuses a malformed entry, naming it.
	if _, err := ParseFile([]byte(`{"routes": [{"route": "GET /x", "stage": "shadow", "ignore": ["Vary: a, b"]}]}`)); err == nil || !strings.Contains(err.Error(), `"Vary: a, b"`) {
		t.Errorf("stages file: %v, want the entry refused", err)
	}
}

// TestShadowVaryIgnoreOne: against Django's LocaleMiddleware, which adds
// "Vary: Accept-Language" to every answer, a Go JSON port that does not
// depend on the language matches once the route ignores "Vary:
// Accept-Language" (set through the admin API, shown by the console),
// and a Go port that adds "Vary: Cookie" is still a mismatch.
func TestShadowVaryIgnoreOne(t *testing.T) {
	django := startPython(t, "djangoi18n.wsgi:application")
	const route = "GET /api/lang/"
	for _, tc := range []struct {
		name     string
		goVary   []string
		mismatch bool
	}{
		{"no Vary", nil, false},
		{"Vary: Accept-Language kept", []string{"Accept-Language"}, false},
		{"Vary: Cookie added", []string{"Cookie"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, django, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: route, Stage: StageShadow}}},
				func(r *router.Router) {
					r.Get("/api/lang/", func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Language", "en-US")
						for _, v := range tc.goVary {
							w.Header().Add("Vary", v)
						}
						writeJSONBody(w, `{"ok": true}`)
					})
				})
			if code, out := e.post(t, "/routes", `{"route": "GET /api/lang/", "ignore": ["Vary: Accept-Language,"]}`); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error"]), `"Vary: Accept-Language,"`) {
				t.Fatalf("malformed entry: %d %v, want a 400 naming it", code, out)
			}
			if code, out := e.post(t, "/routes", `{"route": "GET /api/lang/", "ignore": ["Vary: Accept-Language"]}`); code != http.StatusOK {
				t.Fatalf("POST /routes: %d %v", code, out)
			}
			e.exchange(t, http.MethodGet, "/api/lang/", "")
			e.settle()
			st := e.status(t, route)
			if tc.mismatch {
				if st.Counts.Mismatched != 1 || len(st.RecentMismatches) != 1 || len(st.RecentMismatches[0].Diffs) != 1 {
					t.Fatalf("counts %+v, diffs %+v: want one mismatch at Vary", st.Counts, st.RecentMismatches)
				}
				if d := st.RecentMismatches[0].Diffs[0]; d.Pointer != "header:Vary" || d.Python != missing || d.Go != "cookie" {
					t.Fatalf("diff %+v, want Vary (missing) against cookie", d)
				}
			} else if st.Counts.Matched != 1 {
				t.Fatalf("counts %+v, diffs %+v: want a match", st.Counts, st.RecentMismatches)
			}
			if want := `<span class="ignored">ignored: <code>Vary: Accept-Language</code></span>`; !strings.Contains(consoleHTML(t, e.m), want) {
				t.Errorf("the console lacks %q", want)
			}
		})
	}
}

// TestConsoleVaryHint: a Go port of a Django JSON view behind
// LocaleMiddleware (Django 3.2) that sends neither Vary: Accept-Language
// nor Content-Language is a mismatch the user must decide (Go is right
// for an answer with nothing to translate, wrong for a translated one):
// the console says so under the mismatch, with the exact ignore entries
// for the first case and the Go line for the second. Until 2026-12-02 it
// showed the two differences alone.
func TestConsoleVaryHint(t *testing.T) {
	django := startPython(t, "djangoi18n.wsgi:application")
	const route = "GET /api/lang/"
	e := newEnv(t, django, Options{NoiseSample: -1, Routes: []RouteConfig{{Route: route, Stage: StageShadow}}},
		func(r *router.Router) {
			r.Get("/api/lang/", func(w http.ResponseWriter, r *http.Request) {
				writeJSONBody(w, `{"ok": true}`)
			})
		})
	e.exchange(t, http.MethodGet, "/api/lang/", "")
	e.settle()
	st := e.status(t, route)
	var pointers []string
	for _, m := range st.RecentMismatches {
		for _, d := range m.Diffs {
			pointers = append(pointers, d.Pointer)
		}
	}
	if !slices.Contains(pointers, "header:Vary") || !slices.Contains(pointers, "header:Content-Language") {
		t.Fatalf("counts %+v, pointers %v: want Vary and Content-Language mismatched", st.Counts, pointers)
	}
	page := html.UnescapeString(consoleHTML(t, e.m))
	// The admin API's mismatch carries the same hints (for a script or a
	// user without the console; until 2026-12-02 only the console had them).
	var hints []string
	for _, m := range st.RecentMismatches {
		hints = append(hints, m.Hints...)
	}
	api := strings.Join(hints, "\n")
	for _, want := range []string{
		`Python varies on Accept-Language, Go does not. Django's LocaleMiddleware adds it`,
		`add "ignore": ["Vary: Accept-Language"] to the route`,
		`w.Header().Add("Vary", "Accept-Language")`,
		`add "ignore": ["Content-Language"] to the route`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the console lacks %q", want)
		}
		if !strings.Contains(api, want) {
			t.Errorf("the admin API's hints %q lack %q", hints, want)
		}
	}
	// The entries it names are accepted as written, and then the route
	// matches.
	if code, out := e.post(t, "/routes", `{"route": "GET /api/lang/", "ignore": ["Vary: Accept-Language", "Content-Language"]}`); code != http.StatusOK {
		t.Fatalf("POST /routes: %d %v", code, out)
	}
	e.exchange(t, http.MethodGet, "/api/lang/", "")
	e.settle()
	if st := e.status(t, route); st.Counts.Matched != 1 {
		t.Fatalf("counts %+v, diffs %+v: want a match once ignored", st.Counts, st.RecentMismatches)
	}
}

// TestDiffHints covers the hints for each shape of Vary difference.
func TestDiffHints(t *testing.T) {
	for _, tc := range []struct {
		name string
		diff Diff
		want []string // substrings, one per hint
	}{
		{"Accept-Language lost", Diff{"header:Vary", "accept-language, cookie", "cookie"}, []string{`"ignore": ["Vary: Accept-Language"]`}},
		{"Cookie lost", Diff{"header:Vary", "cookie", missing}, []string{`w.Header().Add("Vary", "Cookie")`}},
		{"other name lost", Diff{"header:Vary", "accept", missing}, []string{`"ignore": ["Vary: Accept"]`}},
		{"added by Go", Diff{"header:Vary", missing, "origin"}, []string{`Go varies on Origin, Python does not`}},
		{"star", Diff{"header:Vary", "*", "cookie"}, nil},
		{"Content-Language lost", Diff{"header:Content-Language", "en-us", missing}, []string{`"ignore": ["Content-Language"]`}},
		{"Content-Language differs", Diff{"header:Content-Language", "en-us", "fr"}, nil},
		{"other header", Diff{"header:Cache-Control", "no-cache", missing}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diffHints([]Diff{tc.diff})
			if len(got) != len(tc.want) {
				t.Fatalf("hints %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("hint %q lacks %q", got[i], w)
				}
			}
		})
	}
}
