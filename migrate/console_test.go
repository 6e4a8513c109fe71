package migrate

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// diffRoutes registers the Go side of flaskmig's /api/diff/{id}, which
// answers another email than Flask's, and /api/order/{id}.
func diffRoutes(r *router.Router) {
	r.Get("/api/diff/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, fmt.Sprintf(`{"id":%s,"name":"Ada Lovelace","email":"other@example.com"}`, chi.URLParam(r, "id")))
	})
	r.Get("/api/order/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, fmt.Sprintf(`{"name":"Ada","id":%s,"score":1,"tags":["a","b"],"active":true}`, chi.URLParam(r, "id")))
	})
}

// consoleServer serves the admin handler with the console, behind mw.
func consoleServer(t *testing.T, m *Migrator, o ConsoleOptions, mw func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var h http.Handler = m.Handler(AdminOptions{Console: m.Console(o)})
	if mw != nil {
		h = mw(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// consoleHTML returns the console's page for m, as a browser gets it.
func consoleHTML(t *testing.T, m *Migrator) string {
	t.Helper()
	srv := consoleServer(t, m, ConsoleOptions{}, nil)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleGet loads the page and returns it with the CSRF cookie and token.
func consoleGet(t *testing.T, base string) (page string, cookie *http.Cookie, token string) {
	t.Helper()
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /: %d %s", res.StatusCode, b)
	}
	for _, c := range res.Cookies() {
		if c.Name == consoleCookie {
			cookie = c
		}
	}
	m := csrfField.FindStringSubmatch(string(b))
	if cookie == nil || m == nil {
		t.Fatalf("GET /: no CSRF cookie (%v) or token in the page", res.Cookies())
	}
	return string(b), cookie, m[1]
}

// consolePost posts a form with optional header pairs.
func consolePost(t *testing.T, base, path string, form url.Values, cookie *http.Cookie, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, html.UnescapeString(string(b))
}

// TestConsole checks the console page against a real Flask app, its CSRF
// protection, and the changes its forms make.
func TestConsole(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: "GET /api/diff/{id}", Stage: StageShadow}}}, diffRoutes)
	srv := consoleServer(t, e.m, ConsoleOptions{TrustedOrigins: []string{"https://admin.example.com"}}, nil)
	const route = "GET /api/diff/{id}"

	if code, body := e.get(t, "/api/diff/3"); code != 200 || !strings.Contains(body, "ada@example.com") {
		t.Fatalf("GET /api/diff/3: %d %q, want Flask's answer", code, body)
	}
	e.settle()

	t.Run("page", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		page := string(b)
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(csp, "default-src 'none'") ||
			res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("headers %v", res.Header)
		}
		var ck *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == consoleCookie {
				ck = c
			}
		}
		if ck == nil || ck.SameSite != http.SameSiteStrictMode || !ck.HttpOnly {
			t.Errorf("CSRF cookie %+v, want HttpOnly and SameSite=Strict", ck)
		}
		for _, want := range []string{
			`data-route="GET /api/diff/{id}"`, `data-route="GET /api/order/{id}"`,
			`data-effective="shadow"`, `<b class="match-rate">0.0%</b>`, `<td class="mono">/email</td>`,
			"GET /api/diff/3 HTTP/1.1", `"email": "ada@example.com"`, `"email": "other@example.com"`,
			`<tr class="changed"><td>  &#34;email&#34;: &#34;ada@example.com&#34;,</td><td>  &#34;email&#34;: &#34;other@example.com&#34;,</td></tr>`,
			`<b id="user">console</b>`,
		} {
			if !strings.Contains(page, want) && !strings.Contains(page, strings.ReplaceAll(want, `"`, "&#34;")) {
				t.Errorf("the page has no %s", want)
			}
		}
		if strings.Contains(page, "<script") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
			t.Errorf("the page loads something or runs a script:\n%s", page)
		}
		nonce := regexp.MustCompile(`<style nonce="([^"]+)">`).FindStringSubmatch(page)
		if nonce == nil || !strings.Contains(csp, "'nonce-"+html.UnescapeString(nonce[1])+"'") {
			t.Errorf("the style sheet's nonce %v is not the CSP's: %s", nonce, csp)
		}
	})

	_, cookie, token := consoleGet(t, srv.URL)
	other := &http.Cookie{Name: consoleCookie, Value: strings.Repeat("A", 32)}
	origin := []string{"Origin", srv.URL}
	wrong := "x" // a first character the real token does not have
	if token[0] == 'x' {
		wrong = "y"
	}
	stageForm := url.Values{"csrf": {token}, "route": {route}, "stage": {"canary"}, "percent": {"50"}}
	without := func(k string) url.Values {
		f := url.Values{}
		for key, v := range stageForm {
			if key != k {
				f[key] = v
			}
		}
		return f
	}
	with := func(k, v string) url.Values {
		f := without(k)
		f.Set(k, v)
		return f
	}

	twice := func(k, v string) url.Values { // k sent twice: its value, then v
		f := with(k, stageForm.Get(k))
		f.Add(k, v)
		return f
	}

	t.Run("CSRF", func(t *testing.T) {
		tests := []struct {
			name   string
			form   url.Values
			cookie *http.Cookie
			hdr    []string
			want   string
		}{
			{"no cookie", stageForm, nil, origin, "CSRF cookie is missing"},
			{"no token", without("csrf"), cookie, origin, "invalid CSRF token"},
			{"wrong token", with("csrf", wrong+token[1:]), cookie, origin, "invalid CSRF token"},
			{"another browser's cookie", stageForm, other, origin, "invalid CSRF token"},
			{"cross-site origin", stageForm, cookie, []string{"Origin", "https://evil.example"}, "another origin"},
			{"null origin", stageForm, cookie, []string{"Origin", "null"}, "another origin"},
			{"cross-site referer", stageForm, cookie, []string{"Referer", "https://evil.example/x"}, "another site"},
			{"Sec-Fetch-Site", stageForm, cookie, []string{"Origin", srv.URL, "Sec-Fetch-Site", "cross-site"}, "cross-site request refused"},
			{"no origin nor referer", stageForm, cookie, nil, "neither an Origin nor a Referer"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, _, body := consolePost(t, srv.URL, "/console/stage", tc.form, tc.cookie, tc.hdr...)
				if code != http.StatusForbidden || !strings.Contains(body, tc.want) {
					t.Errorf("%d %q, want 403 saying %q", code, body, tc.want)
				}
				if c, _ := e.m.Config(route); c.Stage != StageShadow {
					t.Errorf("the refused post changed the stage to %s", c.Stage)
				}
			})
		}
		// The kill switch form is protected the same way.
		code, _, _ := consolePost(t, srv.URL, "/console/kill", url.Values{"all": {"1"}, "on": {"1"}}, cookie, origin...)
		if code != http.StatusForbidden || e.m.ForcePython() {
			t.Errorf("kill switch without a token: %d, force_python %v", code, e.m.ForcePython())
		}
	})

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			form url.Values
			want string
		}{
			{with("stage", "bogus"), "bogus"},
			{with("percent", "half"), `percent "half" is not a number`},
			{with("percent", "150"), "percent"},
			{with("route", "GET /nope"), `unknown route "GET /nope"`},
			// A field sent twice is refused, naming it: the first
			// value was taken silently.
			{twice("route", "GET /nope"), `field "route" sent 2 times`},
			{twice("route", route), `field "route" sent 2 times`},
			{twice("stage", "python"), `field "stage" sent 2 times`},
			{twice("percent", "0"), `field "percent" sent 2 times`},
		}
		for _, tc := range tests {
			code, _, body := consolePost(t, srv.URL, "/console/stage", tc.form, cookie, origin...)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("%v: %d %q, want 400 saying %q", tc.form, code, body, tc.want)
			}
		}
		if c, _ := e.m.Config(route); c.Stage != StageShadow {
			t.Errorf("bad input changed the stage to %s", c.Stage)
		}
		for _, f := range []url.Values{{"csrf": {token}, "all": {"1"}, "on": {"yes"}}, {"csrf": {token}, "on": {"1"}}, {"csrf": {token}, "route": {"GET /nope"}, "on": {"1"}}, {"csrf": {token}, "route": {route, route}, "on": {"1"}}} {
			if code, _, body := consolePost(t, srv.URL, "/console/kill", f, cookie, origin...); code != http.StatusBadRequest {
				t.Errorf("kill %v: %d %q, want 400", f, code, body)
			}
		}
	})

	t.Run("stage", func(t *testing.T) {
		code, hdr, body := consolePost(t, srv.URL, "/console/stage", stageForm, cookie, "Referer", srv.URL+"/")
		// Back to the page at the route's card (until 2026-12-02 its top).
		if code != http.StatusSeeOther || hdr.Get("Location") != "../#route-1" {
			t.Fatalf("%d %v %q, want 303 to ../#route-1", code, hdr, body)
		}
		if c, _ := e.m.Config(route); c.Stage != StageCanary || c.Percent != 50 {
			t.Errorf("config %+v, want canary 50%%", c)
		}
		if st := e.status(t, route); st.Effective != StageCanary || st.Percent != 50 {
			t.Errorf("GET /routes: %s %v%%", st.Effective, st.Percent)
		}
		if !strings.Contains(e.logs.String(), `user.name=console`) {
			t.Errorf("the change is not logged as made by console:\n%s", e.logs)
		}
		// A trusted origin may post too.
		f := with("stage", "shadow")
		if code, _, body := consolePost(t, srv.URL, "/console/stage", f, cookie, "Origin", "https://admin.example.com"); code != http.StatusSeeOther {
			t.Errorf("from a trusted origin: %d %q", code, body)
		}
		if c, _ := e.m.Config(route); c.Stage != StageShadow || c.Percent != 50 {
			t.Errorf("config %+v, want shadow (50%% kept)", c)
		}
	})

	t.Run("kill switches", func(t *testing.T) {
		kill := func(f url.Values) {
			t.Helper()
			f.Set("csrf", token)
			want := "../#route-1" // the route's card; the top for the global switch
			if f.Get("all") == "1" {
				want = "../"
			}
			if code, hdr, body := consolePost(t, srv.URL, "/console/kill", f, cookie, origin...); code != http.StatusSeeOther || hdr.Get("Location") != want {
				t.Fatalf("kill %v: %d to %q %q, want 303 to %s", f, code, hdr.Get("Location"), body, want)
			}
		}
		kill(url.Values{"route": {route}, "on": {"1"}})
		if st := e.status(t, route); !st.ForcePython || st.Effective != StagePython {
			t.Errorf("after the route's kill switch: force_python %v, effective %s", st.ForcePython, st.Effective)
		}
		if code, body := e.get(t, "/api/diff/4"); code != 200 || !strings.Contains(body, "ada@example.com") {
			t.Errorf("GET /api/diff/4 with the kill switch: %d %q", code, body)
		}
		page, _, _ := consoleGet(t, srv.URL)
		if !strings.Contains(page, "Release kill switch") {
			t.Errorf("the page does not offer to release the route's kill switch")
		}
		kill(url.Values{"route": {route}, "on": {"0"}})
		kill(url.Values{"all": {"1"}, "on": {"1"}})
		if !e.m.ForcePython() || e.status(t, route).Effective != StagePython {
			t.Errorf("the global kill switch is not on")
		}
		if st := e.status(t, "GET /api/order/{id}"); st.Effective != StageGo || st.ForcePython {
			t.Errorf("the global kill switch sent an unconfigured route to Python: effective %s", st.Effective)
		}
		if page, _, _ := consoleGet(t, srv.URL); !strings.Contains(page, `id="global-kill"`) {
			t.Errorf("the page does not show the global kill switch")
		}
		kill(url.Values{"all": {"1"}, "on": {"0"}})
		if e.m.ForcePython() || e.status(t, route).ForcePython {
			t.Errorf("the kill switches are still on")
		}
	})

	t.Run("rollback", func(t *testing.T) {
		const order = "GET /api/order/{id}"
		e.m.mu.Lock()
		st := e.m.stats[order]
		e.m.mu.Unlock()
		st.mu.Lock()
		epoch := st.epoch
		st.mu.Unlock()
		e.m.rollback(order, "go 5xx rate 40% over 50 requests in 1m0s (python 0%)", epoch)
		page, _, _ := consoleGet(t, srv.URL)
		if !strings.Contains(page, "Rolled back to Python automatically") || !strings.Contains(page, "go 5xx rate 40% over 50 requests") {
			t.Fatalf("the page does not show the rollback and its reason:\n%s", page)
		}
		// Setting a stage re-enables the route.
		f := url.Values{"csrf": {token}, "route": {order}, "stage": {"go"}}
		if code, _, body := consolePost(t, srv.URL, "/console/stage", f, cookie, origin...); code != http.StatusSeeOther {
			t.Fatalf("%d %q", code, body)
		}
		if st := e.status(t, order); st.Rollback != nil || st.Effective != StageGo {
			t.Errorf("after re-enabling: rollback %v, effective %s", st.Rollback, st.Effective)
		}
	})

	t.Run("routing", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			code         int
		}{
			{"GET", "/console/stage", http.StatusMethodNotAllowed},
			{"GET", "/nope", http.StatusNotFound},
			{"GET", "/routes", http.StatusOK},
		} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.code {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, res.StatusCode, tc.code)
			}
		}
	})
}

// TestConsoleUser checks that a change is logged as made by the user Go
// middleware authenticated.
func TestConsoleUser(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	e := newEnv(t, py, Options{}, diffRoutes)
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(middleware.WithRemoteUser(r.Context(), "alice", "Basic")))
		})
	}
	srv := consoleServer(t, e.m, ConsoleOptions{}, auth)
	page, cookie, token := consoleGet(t, srv.URL)
	if !strings.Contains(page, `<b id="user">alice</b>`) {
		t.Errorf("the page does not say who is signed in")
	}
	f := url.Values{"csrf": {token}, "route": {"GET /api/order/{id}"}, "stage": {"shadow"}}
	if code, _, body := consolePost(t, srv.URL, "/console/stage", f, cookie, "Origin", srv.URL); code != http.StatusSeeOther {
		t.Fatalf("%d %q", code, body)
	}
	if !strings.Contains(e.logs.String(), "user.name=alice") {
		t.Errorf("the change is not logged as made by alice:\n%s", e.logs)
	}
}

func TestSideBySide(t *testing.T) {
	tests := []struct {
		name    string
		py, go_ string
		want    string // rows as kind:python|go
	}{
		{"equal", "a\nb", "a\nb", "same:a|a same:b|b"},
		{"changed line", "a\nb\nc", "a\nx\nc", "same:a|a changed:b|x same:c|c"},
		{"python only", "a\nb\nc", "a\nc", "same:a|a python:b| same:c|c"},
		{"go only", "a\nc", "a\nb\nc", "same:a|a go:|b same:c|c"},
		{"run", "a\nb\nc\nz", "a\nx\nz", "same:a|a changed:b|x python:c| same:z|z"},
		{"empty", "", "a", "go:|a"},
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range sideBySide(split(tc.py), split(tc.go_)) {
				got = append(got, r.Kind+":"+r.Python+"|"+r.Go)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
}

func TestResponseLines(t *testing.T) {
	s := Sample{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"b":1.0,"a":"<x>"}`, Size: 19}
	want := "HTTP 200\nContent-Type: application/json\n\n{\n  \"a\": \"<x>\",\n  \"b\": 1.0\n}"
	if got := strings.Join(responseLines(s), "\n"); got != want {
		t.Errorf("JSON: got\n%s\nwant\n%s", got, want)
	}
	s = Sample{Status: 500, Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"a":`, Size: 9000}
	want = "HTTP 500\nContent-Type: application/json\n\n{\"a\":\n… (9000 bytes in all)"
	if got := strings.Join(responseLines(s), "\n"); got != want {
		t.Errorf("truncated: got\n%s\nwant\n%s", got, want)
	}
}

// TestConsoleWriteBackWarning checks that a change the stages file cannot
// record is made all the same, and that the console says so.
func TestConsoleWriteBackWarning(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	dir := filepath.Join(t.TempDir(), "conf")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "stages.json")
	if err := os.WriteFile(file, []byte(`{"routes": [{"route": "GET /api/diff/{id}", "stage": "shadow"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, py, Options{StagesFile: file}, diffRoutes)
	srv := consoleServer(t, e.m, ConsoleOptions{}, nil)
	_, cookie, token := consoleGet(t, srv.URL)
	if err := os.RemoveAll(dir); err != nil { // the file cannot be written back now
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/console/stage", url.Values{"csrf": {token}, "route": {"GET /api/diff/{id}"}, "stage": {"canary"}, "percent": {"10"}}},
		{"/console/kill", url.Values{"csrf": {token}, "route": {"GET /api/diff/{id}"}, "on": {"1"}}},
	} {
		code, _, body := consolePost(t, srv.URL, tc.path, tc.form, cookie, "Origin", srv.URL)
		if code != http.StatusOK || !strings.Contains(body, "The change is in effect, but") || !strings.Contains(body, "not saved") {
			t.Errorf("POST %s: %d %q, want the change made with a warning", tc.path, code, body)
		}
	}
	if st := e.status(t, "GET /api/diff/{id}"); st.Stage != StageCanary || st.Percent != 10 || !st.Config.ForcePython {
		t.Errorf("stage %s %v%%, force_python %v; want canary 10%% with the kill switch on", st.Stage, st.Percent, st.Config.ForcePython)
	}
}

// FuzzSideBySide checks that each column of the side-by-side diff is its
// side's text, line for line, and that equal lines face each other.
func FuzzSideBySide(f *testing.F) {
	f.Add("a\nb\nc", "a\nx\nc")
	f.Add("", "a")
	f.Add("{\n  \"id\": 1\n}", "{\n  \"id\": \"1\",\n  \"x\": 2\n}")
	f.Add("a\na\nb", "b\na\na")
	f.Fuzz(func(t *testing.T, py, g string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\n")
		}
		a, b := split(py), split(g)
		if len(a) > 100 || len(b) > 100 {
			return
		}
		var left, right []string
		for _, r := range sideBySide(a, b) {
			switch r.Kind {
			case "same":
				if r.Python != r.Go {
					t.Fatalf("a same row with %q and %q", r.Python, r.Go)
				}
				left, right = append(left, r.Python), append(right, r.Go)
			case "changed":
				left, right = append(left, r.Python), append(right, r.Go)
			case "python":
				left = append(left, r.Python)
			case "go":
				right = append(right, r.Go)
			default:
				t.Fatalf("row kind %q", r.Kind)
			}
		}
		if !slices.Equal(left, a) || !slices.Equal(right, b) {
			t.Fatalf("columns %q | %q, want %q | %q", left, right, a, b)
		}
	})
}

// TestConsoleShowsBadStagesFile checks that the console says when the
// stages file on disk is not applied (the old stages stay), and why, so
// that whoever edited it does not take the page for the new stages; and
// that the notice goes once the file is fixed.
func TestConsoleShowsBadStagesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stages.json")
	writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "python"}]}`)
	py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
	e := newEnv(t, py, Options{StagesFile: path, PollInterval: time.Hour}, func(r *router.Router) {
		r.Get("/x", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
	})
	page := func() string {
		return serve(e.m.Console(ConsoleOptions{}), http.MethodGet, "127.0.0.1", "/", "", "").Body.String()
	}
	const notice = "stages file is not applied"
	if strings.Contains(page(), notice) {
		t.Fatal("the console reports a bad stages file before any")
	}
	writeFile(t, path, "{\"routes\": [\n  {\"route\": \"GET /x\", \"stage\": \"canry\"}]}")
	if err := e.m.Reload(); err == nil {
		t.Fatal("Reload of a bad file: no error")
	}
	if err := e.m.FileError(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("FileError() = %v, want the error with its line", err)
	}
	p := page()
	if !strings.Contains(p, notice) || !strings.Contains(p, "line 2") || !strings.Contains(p, `unknown stage &#34;canry&#34;`) {
		t.Fatalf("the console does not say the stages file is not applied, and why:\n%s", p)
	}
	if _, body := e.get(t, "/x"); body != "python\n" {
		t.Fatalf("the old stages did not stay: %q", body)
	}
	writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "go"}]}`)
	if err := e.m.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.m.FileError() != nil || strings.Contains(page(), notice) {
		t.Fatalf("the notice stays after the file was fixed: %v", e.m.FileError())
	}
}

// The console's CSRF cookie is Secure when the request's scheme is https,
// as the app sees it (wsgi.url_scheme): over TLS, or behind a trusted
// proxy that ends TLS. Before, only a TLS connection to graft counted.
func TestConsoleCookieSecure(t *testing.T) {
	trusted := middleware.MustParseProxies("10.0.0.0/8")
	for _, tc := range []struct {
		name, peer string
		tls        bool
		header     map[string]string
		secure     bool
	}{
		{"plain http", "203.0.113.9:1", false, nil, false},
		{"tls", "203.0.113.9:1", true, nil, true},
		{"trusted proxy, x-forwarded-proto", "10.0.0.1:1", false, map[string]string{"X-Forwarded-Proto": "https"}, true},
		{"trusted proxy, x-forwarded-ssl", "10.0.0.1:1", false, map[string]string{"X-Forwarded-Ssl": "on"}, true},
		{"untrusted client, x-forwarded-proto", "203.0.113.9:1", false, map[string]string{"X-Forwarded-Proto": "https"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := middleware.TrustProxies(trusted)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (&console{}).nonce(w, r) }))
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.peer
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			cookies := rec.Result().Cookies()
			if len(cookies) != 1 || cookies[0].Secure != tc.secure {
				t.Fatalf("cookies %v, want one with Secure %v", cookies, tc.secure)
			}
		})
	}
}

// TestConsoleInventory checks the console's route inventory page: linked
// from the page (the whole inventory, and each route's lines from its row
// and card) when the admin handler has the Python route map, absent
// otherwise; the lines of one route, with links back to the cards; its
// errors. Until 2026-12-03 the console did not link the inventory, which
// only GET /inventory answered, as JSON.
func TestConsoleInventory(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	const users, diff = "GET /api/users/{id:[0-9]+}", "GET /api/diff/{id}"
	e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: diff, Stage: StageShadow}, {Route: users, Stage: StageShadow}}}, func(r *router.Router) {
		diffRoutes(r)
		r.Get("/api/users/{id:[0-9]+}", okHandler)
	})
	serveAdmin := func(o AdminOptions) *httptest.Server {
		srv := httptest.NewServer(e.m.Handler(o))
		t.Cleanup(srv.Close)
		return srv
	}
	get := func(base, path string) (int, http.Header, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	srv := serveAdmin(AdminOptions{Console: e.m.Console(ConsoleOptions{}), PythonRoutes: py.AppRoutes})
	var usersCard string
	for i, st := range e.m.Routes() {
		if st.Route == users {
			usersCard = "#" + cardID(i)
		}
	}

	t.Run("links", func(t *testing.T) {
		_, _, page := get(srv.URL, "/")
		for _, want := range []string{
			`<a href="console/inventory" id="inventory-link">`,
			`<a href="inventory">inventory</a>`,
			`<a class="inventory-route" href="console/inventory?route=GET%20%2fapi%2fusers%2f%7bid%3a%5b0-9%5d%2b%7d" aria-label="GET /api/users/{id:[0-9]&#43;} in the route inventory">(inventory)</a>`,
			`<a class="inventory-route" href="console/inventory?route=GET%20%2fapi%2fdiff%2f%7bid%7d">GET /api/diff/{id} in the route inventory</a>`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the page has no %s", want)
			}
		}
		// Without the route map, no link and no page.
		if page := consoleHTML(t, e.m); strings.Contains(page, "console/inventory") || strings.Contains(page, `href="inventory"`) {
			t.Errorf("without PythonRoutes, the page links the inventory")
		}
		plain := consoleServer(t, e.m, ConsoleOptions{}, nil)
		if code, _, body := get(plain.URL, "/console/inventory"); code != http.StatusNotFound || !strings.Contains(body, "AdminOptions.PythonRoutes") {
			t.Errorf("without PythonRoutes: %d %q, want 404 naming AdminOptions.PythonRoutes", code, body)
		}
	})

	t.Run("all", func(t *testing.T) {
		code, hdr, page := get(srv.URL, "/console/inventory")
		if code != 200 || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") || hdr.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%d %v", code, hdr)
		}
		for _, want := range []string{
			`data-rule="/api/users/&lt;int:user_id&gt;"`, `/api/items`, `data-rule="/api/side"`, `data-status="python"`,
			`<a class="mono" href="../` + usersCard + `" aria-label="GET /api/users/{id:[0-9]&#43;} in the migration console">GET</a> <span class="stage stage-shadow">shadow</span>`,
			`<td>constraint</td><td><a class="mono" href="../#`, // GET /api/diff/{id} against <int:user_id>
			`<a href="../" id="back">`, `<a href="../inventory">inventory</a>`, "Python routes (0%) served by Go",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the inventory page has no %s:\n%s", want, page)
			}
		}
		if strings.Contains(page, "<script") || strings.Contains(page, `id="all-routes"`) {
			t.Errorf("the full inventory has a script or a link to itself")
		}
	})

	t.Run("one route", func(t *testing.T) {
		_, _, page := get(srv.URL, "/console/inventory?route="+url.QueryEscape(users))
		rows := regexp.MustCompile(`<tr id="py-\d+" class="python-route" data-rule="([^"]*)"`).FindAllStringSubmatch(page, -1)
		if len(rows) != 1 || rows[0][1] != "/api/users/&lt;int:user_id&gt;" {
			t.Errorf("the lines of %s: %q, want /api/users/<int:user_id> only:\n%s", users, rows, page)
		}
		for _, want := range []string{`id="inventory-route">GET /api/users/{id:[0-9]&#43;}</span>`, `<a href="inventory" id="all-routes">`,
			`href="../` + usersCard + `"`, "other decimal digits"} {
			if !strings.Contains(page, want) {
				t.Errorf("the route's inventory has no %s:\n%s", want, page)
			}
		}
		_, _, page = get(srv.URL, "/console/inventory?route="+url.QueryEscape(diff))
		if strings.Contains(page, `class="python-route"`) || !strings.Contains(page, `<td>constraint</td>`) {
			t.Errorf("the lines of %s: want its constraint conflict only:\n%s", diff, page)
		}
		_, _, page = get(srv.URL, "/console/inventory?route="+url.QueryEscape("POST /nowhere"))
		if !strings.Contains(page, `id="no-lines"`) {
			t.Errorf("a route with no line: want the page to say so:\n%s", page)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			code int
			want string
		}{
			{"/console/inventory?route=nope", http.StatusBadRequest, `is not &#34;METHOD /pattern&#34;`},
			{"/console/inventory?route=GET+/a&route=GET+/b", http.StatusBadRequest, `sent 2 times`},
		} {
			if code, _, body := get(srv.URL, tc.path); code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s: %d %q, want %d saying %s", tc.path, code, body, tc.code, tc.want)
			}
		}
		req, _ := http.NewRequest("POST", srv.URL+"/console/inventory", nil)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /console/inventory: %v %v, want 405", res, err)
		} else {
			res.Body.Close()
		}
		failing := serveAdmin(AdminOptions{Console: e.m.Console(ConsoleOptions{}), PythonRoutes: func(context.Context) (*wsgi.AppRouteMap, error) {
			return nil, wsgi.ErrTimeout
		}})
		if code, _, body := get(failing.URL, "/console/inventory"); code != http.StatusBadGateway || !strings.Contains(body, "reading the Python route map") {
			t.Errorf("a failing route map: %d %q, want 502", code, body)
		}
		// The console's page does not ask Python: it shows when the
		// route map fails (a kill switch is needed most then).
		if code, _, page := get(failing.URL, "/"); code != 200 || !strings.Contains(page, `id="inventory-link"`) {
			t.Errorf("the page with a failing route map: %d", code)
		}
	})

	t.Run("served alone", func(t *testing.T) {
		alone := httptest.NewServer(e.m.Console(ConsoleOptions{PythonRoutes: py.AppRoutes}))
		t.Cleanup(alone.Close)
		_, _, page := get(alone.URL, "/")
		if !strings.Contains(page, `id="inventory-link"`) || strings.Contains(page, `href="inventory"`) {
			t.Errorf("served alone: want a link to the inventory page, none to the JSON the admin handler answers")
		}
		if code, _, page := get(alone.URL, "/console/inventory"); code != 200 || !strings.Contains(page, `data-rule="/api/side"`) || strings.Contains(page, `../inventory`) {
			t.Errorf("served alone: %d\n%s", code, page)
		}
	})
}

// TestConsoleInventoryPrefixRoute checks that a Go route at a sub-Router's
// prefix (r.Route("/api/items", ...) or r.Mount("/api/side", sub) with a
// "/" route), which chi serves at the prefix without its slash too, links
// back to the card of the route that serves it ("GET /api/items/", whose
// stage it has), and is among that route's lines. Until 2026-12-03 the
// inventory page joined its Go routes to the cards by their own pattern
// ("GET /api/items"), which is no card: it had no link, and the route's
// lines left its Python route out.
func TestConsoleInventoryPrefixRoute(t *testing.T) {
	py := startPython(t, "flaskmig:app")
	for _, tc := range []struct {
		name, route, rule, implicit string
		register                    func(r *router.Router)
	}{
		{"Route", "GET /api/items/", "/api/items", "/api/items", func(r *router.Router) {
			r.Route("/api/items", func(s *router.Router) { s.Get("/", okHandler) })
		}},
		{"Mount", "GET /api/side/", "/api/side", "/api/side", func(r *router.Router) {
			sub := router.New()
			sub.Get("/", okHandler)
			r.Mount("/api/side", sub)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, py, Options{Routes: []RouteConfig{{Route: tc.route, Stage: StageShadow}}}, tc.register)
			srv := httptest.NewServer(e.m.Handler(AdminOptions{Console: e.m.Console(ConsoleOptions{}), PythonRoutes: py.AppRoutes}))
			t.Cleanup(srv.Close)
			card := ""
			for i, st := range e.m.Routes() {
				if st.Route == tc.route {
					card = "#" + cardID(i)
				}
			}
			if card == "" {
				t.Fatalf("%s has no card", tc.route)
			}
			link := `<a class="mono" href="../` + card + `" aria-label="GET ` + tc.implicit + ` in the migration console">GET</a> <span class="stage stage-shadow">shadow</span>`
			for _, q := range []string{"", "?route=" + url.QueryEscape(tc.route)} {
				res, err := http.Get(srv.URL + "/console/inventory" + q)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				page := string(b)
				row := regexp.MustCompile(`(?s)<tr id="py-\d+" class="python-route" data-rule="` + regexp.QuoteMeta(tc.rule) + `".*?</tr>`).FindString(page)
				if res.StatusCode != 200 || row == "" {
					t.Fatalf("GET console/inventory%s: %d, no row for %s:\n%s", q, res.StatusCode, tc.rule, page)
				}
				if !strings.Contains(row, link) {
					t.Errorf("GET console/inventory%s: the row of %s has no link to the card of %s (%s):\n%s", q, tc.rule, tc.route, link, row)
				}
			}
		})
	}
}
