package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/router"
)

// hostEnv is a Migrator with one route in python behind a fallback.
func hostEnv(t *testing.T) *env {
	t.Helper()
	fb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
	return newEnv(t, fb, Options{Routes: []RouteConfig{{Route: "GET /x", Stage: StagePython}}}, func(r *router.Router) {
		r.Get("/x", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
	})
}

// serve has h answer a request for host (its Host header).
func serve(h http.Handler, method, host, path, contentType, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://placeholder"+path, strings.NewReader(body))
	req.Host = host
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAdminHosts checks the Host rule of the admin API and the console
// (against DNS rebinding): IP addresses and localhost with any port, the
// names of AdminOptions.Hosts, nothing else; a console served alone
// takes the names of its ConsoleOptions.Hosts, by the same rule, and none
// without them; inside the admin handler, the handler's Hosts decide.
func TestAdminHosts(t *testing.T) {
	e := hostEnv(t)
	names := []string{"Admin.Internal", "ops"}
	admin := e.m.Handler(AdminOptions{Console: e.m.Console(ConsoleOptions{}), Hosts: names})
	alone := e.m.Console(ConsoleOptions{})
	aloneNamed := e.m.Console(ConsoleOptions{Hosts: names})
	inAdminUnnamed := e.m.Handler(AdminOptions{Console: e.m.Console(ConsoleOptions{Hosts: names})})
	for _, tc := range []struct {
		host         string
		admin, alone bool // allowed
	}{
		{"127.0.0.1:9091", true, true},
		{"127.0.0.1", true, true},
		{"10.1.2.3:80", true, true},
		{"[::1]:9091", true, true},
		{"[::1]", true, true},
		{"[fe80::1%25eth0]:9091", true, true},
		{"localhost:9091", true, true},
		{"LocalHost", true, true},
		{"admin.internal:9091", true, false},
		{"ADMIN.INTERNAL", true, false},
		{"ops", true, false},
		{"rebind.attacker.example:9091", false, false},
		{"localhost.attacker.example", false, false},
		{"127.0.0.1.nip.io:9091", false, false},
		{"admin.internal.attacker.example", false, false},
		{"internal", false, false},
		{"", false, false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			check := func(what string, rec *httptest.ResponseRecorder, allowed bool, ok int, contentType string, option ...string) {
				t.Helper()
				if option == nil {
					option = []string{"AdminOptions.Hosts"}
				}
				switch {
				case allowed && rec.Code != ok:
					t.Errorf("%s: %d %q, want %d", what, rec.Code, rec.Body, ok)
				case allowed:
				case rec.Code != http.StatusMisdirectedRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), contentType) ||
					!strings.Contains(rec.Body.String(), option[0]):
					t.Errorf("%s: %d %s %q, want 421 with a %s error naming %s", what, rec.Code, rec.Header().Get("Content-Type"), rec.Body, contentType, option[0])
				}
			}
			rec := serve(admin, "GET", tc.host, "/routes", "", "")
			check("GET /routes", rec, tc.admin, 200, "application/json")
			if !tc.admin {
				var out map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || !strings.Contains(out["error"], fmt.Sprintf("%q", tc.host)) {
					t.Errorf("GET /routes: %v %v, want a JSON error naming the host", out, err)
				}
			}
			check("POST /force-python", serve(admin, "POST", tc.host, "/force-python", "application/json", `{"all": true, "on": false}`), tc.admin, 200, "application/json")
			check("GET /nope", serve(admin, "GET", tc.host, "/nope", "", ""), tc.admin, 404, "text/plain")
			check("the console", serve(admin, "GET", tc.host, "/", "", ""), tc.admin, 200, "text/plain")
			check("the console served alone", serve(alone, "GET", tc.host, "/", "", ""), tc.alone, 200, "text/plain", "ConsoleOptions.Hosts")
			check("the console served alone with Hosts", serve(aloneNamed, "GET", tc.host, "/", "", ""), tc.admin, 200, "text/plain", "ConsoleOptions.Hosts")
			check("the console with Hosts in a handler without", serve(inAdminUnnamed, "GET", tc.host, "/", "", ""), tc.alone, 200, "text/plain")
		})
	}
	t.Run("without a console", func(t *testing.T) {
		h := e.m.Handler(AdminOptions{})
		rec := serve(h, "GET", "evil.example", "/", "", "")
		if rec.Code != http.StatusMisdirectedRequest || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%d %s %q, want a 421 with a JSON error", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	})
	t.Run("refusals are logged", func(t *testing.T) {
		if !strings.Contains(e.logs.String(), "migrate: admin request refused") {
			t.Errorf("no log line:\n%s", e.logs)
		}
	})
}

// TestAdminRebinding replays a DNS rebinding attack: a page at
// http://rebind.attacker.example:9091, whose name now points at the
// loopback admin listener, reads the console and posts its forms and the
// JSON API as same-origin requests. Nothing reaches the Migrator.
func TestAdminRebinding(t *testing.T) {
	e := hostEnv(t)
	h := e.m.Handler(AdminOptions{Console: e.m.Console(ConsoleOptions{})})
	const host = "rebind.attacker.example:9091"
	origin := "http://" + host

	rec := serve(h, "GET", host, "/", "", "")
	if rec.Code != http.StatusMisdirectedRequest || csrfField.MatchString(rec.Body.String()) || len(rec.Result().Cookies()) > 0 {
		t.Fatalf("GET /: %d, cookies %v, %q: want a 421 without a token or cookie", rec.Code, rec.Result().Cookies(), rec.Body)
	}
	// Even with a token and cookie the page got some other way.
	rec = serve(h, "GET", "127.0.0.1:9091", "/", "", "")
	m := csrfField.FindStringSubmatch(rec.Body.String())
	cookies := rec.Result().Cookies()
	if m == nil || len(cookies) != 1 {
		t.Fatalf("GET / for 127.0.0.1: %d, no token or cookie", rec.Code)
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value
	for _, tc := range []struct {
		path, contentType, body string
	}{
		{"/console/kill", "application/x-www-form-urlencoded", url.Values{"csrf": {m[1]}, "all": {"1"}, "on": {"1"}}.Encode()},
		{"/console/stage", "application/x-www-form-urlencoded", url.Values{"csrf": {m[1]}, "route": {"GET /x"}, "stage": {"go"}}.Encode()},
		{"/force-python", "application/json", `{"all": true, "on": true}`},
		{"/routes", "application/json", `{"route": "GET /x", "stage": "go"}`},
	} {
		rec := serve(h, "POST", host, tc.path, tc.contentType, tc.body,
			"Origin", origin, "Sec-Fetch-Site", "same-origin", "Cookie", cookie)
		if rec.Code != http.StatusMisdirectedRequest {
			t.Errorf("POST %s: %d %q, want 421", tc.path, rec.Code, rec.Body)
		}
	}
	if c, _ := e.m.Config("GET /x"); e.m.ForcePython() || c.Stage != StagePython {
		t.Fatalf("the attack changed the stages: force_python %v, %+v", e.m.ForcePython(), c)
	}
	// The same post from the real origin goes through.
	rec = serve(h, "POST", "127.0.0.1:9091", "/console/kill", "application/x-www-form-urlencoded",
		url.Values{"csrf": {m[1]}, "all": {"1"}, "on": {"1"}}.Encode(), "Origin", "http://127.0.0.1:9091", "Cookie", cookie)
	if rec.Code != http.StatusSeeOther || !e.m.ForcePython() {
		t.Fatalf("POST /console/kill for 127.0.0.1: %d %q", rec.Code, rec.Body)
	}
}

// TestAdminHostsOption checks that Handler refuses entries that are not
// host names, at registration.
func TestAdminHostsOption(t *testing.T) {
	e := hostEnv(t)
	for _, bad := range []string{"", ".", "https://admin.example.com", "admin.example.com:9091", "*.example.com", "admin example", "admin/x"} {
		t.Run(bad, func(t *testing.T) {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "AdminOptions.Hosts") {
					t.Errorf("Handler with Hosts %q: panic %v, want one naming AdminOptions.Hosts", bad, p)
				}
			}()
			e.m.Handler(AdminOptions{Hosts: []string{bad}})
		})
	}
	for _, good := range []string{"admin.example.com", "ADMIN", "ops-1.internal", "10.0.0.1", "::1"} {
		e.m.Handler(AdminOptions{Hosts: []string{good}}) // no panic
		e.m.Console(ConsoleOptions{Hosts: []string{good}})
	}
	for _, bad := range []string{"", "https://admin.example.com", "admin.example.com:9091"} {
		t.Run("console "+bad, func(t *testing.T) {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "ConsoleOptions.Hosts") {
					t.Errorf("Console with Hosts %q: panic %v, want one naming ConsoleOptions.Hosts", bad, p)
				}
			}()
			e.m.Console(ConsoleOptions{Hosts: []string{bad}})
		})
	}
}

// TestEmptyStage checks that an empty (or null) stage is refused alike by
// the stages file and the admin API, and that leaving the key out is not.
func TestEmptyStage(t *testing.T) {
	for _, tc := range []struct {
		name, stage, err string
	}{
		{"empty", `"stage": "", `, `unknown stage ""`},
		{"null", `"stage": null, `, `unknown stage ""`},
		{"unknown", `"stage": "gone", `, `unknown stage "gone"`},
		{"left out", ``, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := hostEnv(t)
			entry := `{` + tc.stage + `"route": "GET /x", "percent": 5}`
			_, err := ParseFile([]byte(`{"routes": [` + entry + `]}`))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("stages file: %v, want %q", err, tc.err)
			}
			code, out := e.post(t, "/routes", entry)
			if tc.err == "" {
				if code != 200 || out["stage"] != "python" || out["percent"] != 5.0 {
					t.Errorf("POST /routes: %d %v, want 200, the stage kept and the percent changed", code, out)
				}
				return
			}
			if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), tc.err) {
				t.Errorf("POST /routes: %d %v, want 400 with %q", code, out, tc.err)
			}
			if c, _ := e.m.Config("GET /x"); c.Stage != StagePython || c.Percent != 0 {
				t.Errorf("a refused body changed the route: %+v", c)
			}
		})
	}
}

// TestConsoleTrustedOrigins checks that ConsoleOptions.TrustedOrigins
// match a post's Origin or Referer in scheme, host and port, and that
// Console refuses entries that are not origins, at registration.
func TestConsoleTrustedOrigins(t *testing.T) {
	e := hostEnv(t)
	h := e.m.Handler(AdminOptions{Console: e.m.Console(ConsoleOptions{
		TrustedOrigins: []string{"https://ok.example.com", "http://Plain.Example.com:8080/", "https://[::1]"},
	})})
	const host = "127.0.0.1:9091"
	rec := serve(h, "GET", host, "/", "", "")
	m := csrfField.FindStringSubmatch(rec.Body.String())
	cookies := rec.Result().Cookies()
	if m == nil || len(cookies) != 1 {
		t.Fatalf("GET /: %d, no token or cookie", rec.Code)
	}
	form := url.Values{"csrf": {m[1]}, "route": {"GET /x"}, "on": {"0"}}.Encode()
	for _, tc := range []struct {
		header, value string
		ok            bool
	}{
		{"Origin", "https://ok.example.com", true},
		{"Origin", "https://ok.example.com:443", true},
		{"Origin", "HTTPS://OK.EXAMPLE.COM", true},
		{"Origin", "http://ok.example.com", false},
		{"Origin", "https://ok.example.com:8443", false},
		{"Origin", "https://evil.ok.example.com", false},
		{"Origin", "http://plain.example.com:8080", true},
		{"Origin", "https://plain.example.com:8080", false},
		{"Origin", "http://plain.example.com", false},
		{"Origin", "https://[::1]", true},
		{"Origin", "http://[::1]", false},
		{"Origin", "http://" + host, true}, // the request's own host
		{"Referer", "https://ok.example.com/admin/", true},
		{"Referer", "http://ok.example.com/admin/", false},
	} {
		t.Run(tc.header+" "+tc.value, func(t *testing.T) {
			rec := serve(h, "POST", host, "/console/kill", "application/x-www-form-urlencoded", form,
				tc.header, tc.value, "Cookie", cookies[0].Name+"="+cookies[0].Value)
			if tc.ok && rec.Code != http.StatusSeeOther || !tc.ok && rec.Code != http.StatusForbidden {
				t.Errorf("%d %q, want %s", rec.Code, rec.Body, map[bool]string{true: "303", false: "403"}[tc.ok])
			}
		})
	}
	for _, bad := range []string{"admin.example.com", "admin.example.com:443", "//admin.example.com", "ftp://admin.example.com",
		"https://", "https://admin.example.com/console", "https://admin.example.com?x", "https://admin.example.com#x",
		"https://user@admin.example.com", "null", ""} {
		t.Run("entry "+bad, func(t *testing.T) {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "TrustedOrigins") {
					t.Errorf("Console with TrustedOrigins %q: panic %v, want one naming ConsoleOptions.TrustedOrigins", bad, p)
				}
			}()
			e.m.Console(ConsoleOptions{TrustedOrigins: []string{bad}})
		})
	}
}

// TestAdminStagesFile checks GET /stages-file: the stages file's path
// and whether it applies, with the error (and its line) while it does
// not, so that a script can see what the console shows; GET /routes
// keeps its array.
func TestAdminStagesFile(t *testing.T) {
	type answer struct {
		Path    string  `json:"path"`
		Applied bool    `json:"applied"`
		Error   *string `json:"error"`
	}
	get := func(t *testing.T, h http.Handler) answer {
		t.Helper()
		rec := serve(h, http.MethodGet, "127.0.0.1", "/stages-file", "", "")
		var a answer
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET /stages-file: %d %s %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("GET /stages-file: %v: %q", err, rec.Body)
		}
		return a
	}

	t.Run("no stages file", func(t *testing.T) {
		e := hostEnv(t)
		if a := get(t, e.m.Handler(AdminOptions{})); a.Path != "" || !a.Applied || a.Error != nil {
			t.Fatalf("%+v, want no path, applied, no error", a)
		}
	})

	t.Run("a file that does not apply, then does", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "stages.json")
		writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "python"}]}`)
		py := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "python\n") })
		e := newEnv(t, py, Options{StagesFile: path, PollInterval: time.Hour}, func(r *router.Router) {
			r.Get("/x", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "go\n") })
		})
		h := e.m.Handler(AdminOptions{})
		if a := get(t, h); a.Path != path || !a.Applied || a.Error != nil {
			t.Fatalf("%+v, want %s applied", a, path)
		}
		writeFile(t, path, "{\"routes\": [\n  {\"route\": \"GET /x\", \"stage\": \"canry\"}]}")
		if err := e.m.Reload(); err == nil {
			t.Fatal("Reload of a bad file: no error")
		}
		if a := get(t, h); a.Applied || a.Error == nil || !strings.Contains(*a.Error, "line 2") || !strings.Contains(*a.Error, "canry") {
			t.Fatalf("%+v, want not applied, with the error and its line", a)
		}
		rec := serve(h, http.MethodGet, "127.0.0.1", "/routes", "", "")
		var routes []RouteStatus
		if err := json.Unmarshal(rec.Body.Bytes(), &routes); err != nil || len(routes) != 1 {
			t.Fatalf("GET /routes is no longer the array of routes: %v %q", err, rec.Body)
		}
		if rec := serve(h, http.MethodPost, "127.0.0.1", "/stages-file", "application/json", "{}"); rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Fatalf("POST /stages-file: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
		}
		writeFile(t, path, `{"routes": [{"route": "GET /x", "stage": "go"}]}`)
		if err := e.m.Reload(); err != nil {
			t.Fatal(err)
		}
		if a := get(t, h); !a.Applied || a.Error != nil {
			t.Fatalf("%+v after the fix, want applied", a)
		}
	})
}

// TestAdminNotFound: without a console, a path the API does not serve
// gets a 404 with the API's JSON error, like its other errors (it was
// net/http's plain-text "404 page not found"); with a console, such a
// path still goes to the console.
func TestAdminNotFound(t *testing.T) {
	e := hostEnv(t)
	h := e.m.Handler(AdminOptions{})
	for _, tc := range []struct {
		method, path string
		want         string // in the error
	}{
		{http.MethodGet, "/nope", "migrate: no /nope in the admin API (its paths: /routes, /force-python, /stages-file)"},
		{http.MethodGet, "/", "migrate: no / in the admin API"},
		{http.MethodPost, "/routes/x", "migrate: no /routes/x in the admin API"},
		{http.MethodGet, "/inventory", "/inventory needs AdminOptions.PythonRoutes"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := serve(h, tc.method, "127.0.0.1", tc.path, "application/json", "{}")
			var out map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q %q (%v), want a 404 with a JSON error", rec.Code, rec.Header().Get("Content-Type"), rec.Body, err)
			}
			if len(out) != 1 || !strings.Contains(out["error"], tc.want) {
				t.Fatalf("answer %v, want only an error with %q", out, tc.want)
			}
		})
	}
	t.Run("with a console", func(t *testing.T) {
		console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console\n") })
		rec := serve(e.m.Handler(AdminOptions{Console: console}), http.MethodGet, "127.0.0.1", "/nope", "", "")
		if rec.Code != http.StatusOK || rec.Body.String() != "console\n" {
			t.Fatalf("%d %q, want the console's answer", rec.Code, rec.Body)
		}
		// /inventory is the API's path: without a route map it is the
		// API's JSON error, not the console's page (it was net/http's
		// plain-text 404 through a real console).
		rec = serve(e.m.Handler(AdminOptions{Console: console}), http.MethodGet, "127.0.0.1", "/inventory", "", "")
		var out map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusNotFound || !strings.Contains(out["error"], "/inventory needs AdminOptions.PythonRoutes") {
			t.Fatalf("%d %q (%v), want a 404 with the API's JSON error", rec.Code, rec.Body, err)
		}
	})
}
