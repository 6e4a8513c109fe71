package wsgi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

// End-to-end tests of graft:flask with flask-login (testdata/flaskloginapp.py):
// Go's Identity must say who flask-login says, for every way flask-login
// finds (or refuses) a user.

// flaskLoginApp returns a container of flaskloginapp:app with graft:flask
// and a server of it (identityServer's), with the users added.
func flaskLoginApp(t *testing.T, cfg Config, users map[string]string) (*Container, *pythontest.Buffer, *httptest.Server) {
	t.Helper()
	pythontest.Python(t, "flask", "flask_login")
	if cfg.App == "" {
		cfg.App = "flaskloginapp:app"
	}
	cfg.IdentityHook = "graft:flask"
	c, logs := newContainer(t, cfg)
	srv := identityServer(t, c)
	admin := newE2EClient(t, srv.URL, false)
	for id, name := range users {
		if resp := form(admin, "/users", url.Values{"id": {id}, "name": {name}}); resp.StatusCode != 200 {
			t.Fatalf("adding user %s: %d", id, resp.StatusCode)
		}
	}
	return c, logs, srv
}

// flaskLogin logs user id in with a new client, with "remember me" if
// remember, and returns the client.
func flaskLogin(t *testing.T, base, id string, remember bool) *e2eClient {
	t.Helper()
	cl := newE2EClient(t, base, true)
	vals := url.Values{"id": {id}}
	if remember {
		vals.Set("remember", "1")
	}
	if resp := form(cl, "/login", vals); resp.StatusCode != 200 {
		t.Fatalf("login of %s: %d", id, resp.StatusCode)
	}
	return cl
}

// jarCookie returns the Cookie header of cl's cookies named in keep (all
// of them when keep is nil), as a browser that lost the others sends it.
func jarCookie(t *testing.T, cl *e2eClient, keep []string) string {
	t.Helper()
	u, err := url.Parse(cl.base)
	if err != nil {
		t.Fatal(err)
	}
	var pieces []string
	for _, ck := range cl.hc.Jar.Cookies(u) {
		if keep == nil || slices.Contains(keep, ck.Name) {
			pieces = append(pieces, ck.Name+"="+ck.Value)
		}
	}
	return strings.Join(pieces, "; ")
}

// askBoth asks Go's /go/whoami and Flask's /me with the Cookie header
// cookie, and returns Go's Identity and flask-login's user id (nil for
// anonymous).
func askBoth(t *testing.T, base, cookie string) (Identity, any) {
	t.Helper()
	hdr := http.Header{}
	if cookie != "" {
		hdr.Set("Cookie", cookie)
	}
	id, me := askBothHeader(t, base, hdr)
	return id, me.UserID
}

// flaskMe is the answer of flaskloginapp's /me: flask-login's user id (nil
// for anonymous) and whether the login is fresh.
type flaskMe struct {
	UserID any  `json:"user_id"`
	Fresh  bool `json:"fresh"`
}

// askBothHeader asks Go's /go/whoami and Flask's /me with the headers hdr,
// and returns Go's Identity and Flask's answer.
func askBothHeader(t *testing.T, base string, hdr http.Header) (Identity, flaskMe) {
	t.Helper()
	return askBothQuery(t, base, hdr, "")
}

// askBothQuery is askBothHeader with the query query ("" for none) on
// both paths.
func askBothQuery(t *testing.T, base string, hdr http.Header, query string) (Identity, flaskMe) {
	t.Helper()
	if query != "" {
		query = "?" + query
	}
	cl := newE2EClient(t, base, false)
	resp, body := cl.do("GET", "/go/whoami"+query, hdr, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("Go's /go/whoami: %d %s", resp.StatusCode, body)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Go's /go/whoami sets cookies %q: the lookup leaked into the response", sc)
	}
	var id Identity
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&id); err != nil {
		t.Fatalf("Go's /go/whoami: %v: %s", err, body)
	}
	var me flaskMe
	cl.json("GET", "/me"+query, hdr, nil, 200, &me)
	return id, me
}

// TestIdentityFlaskLogin: graft:flask asks flask-login whenever the app
// has a LoginManager, as Flask's own views do. Until 2026-12-02 it
// returned None for an empty session before asking, so a user logged in
// with "remember me" who came back with only the remember_token cookie
// (the session cookie gone with the browser session) was logged in on
// Flask's pages and anonymous on Go's; and it took the session's
// _user_id without asking the user_loader, so a deleted user was still
// logged in on Go's.
func TestIdentityFlaskLogin(t *testing.T) {
	_, _, srv := flaskLoginApp(t, Config{IdentityTTL: -1}, map[string]string{
		"7": "ada", "8": "bob", "9": "cy", "10": "dee", "11": "eve", "12": "flo"})
	remembered := func(id string) *e2eClient { return flaskLogin(t, srv.URL, id, true) }
	for _, tc := range []struct {
		name   string
		client func() *e2eClient // nil: none, only cookie
		keep   []string          // the client's cookies sent; nil: all
		cookie string            // sent as well
		want   any               // flask-login's user id; nil: anonymous
		// session is the Identity's session; nil: the Identity is nil
		// (an empty session and no user).
		session map[string]any
	}{
		{name: "remember, session cookie gone", client: func() *e2eClient { return remembered("7") },
			keep: []string{"remember_token"}, want: "7", session: map[string]any{}},
		{name: "remember, session cookie kept", client: func() *e2eClient { return remembered("8") },
			want: "8", session: map[string]any{"_user_id": "8", "_fresh": true, "_id": "*"}},
		{name: "no remember, session cookie gone", client: func() *e2eClient { return flaskLogin(t, srv.URL, "9", false) },
			keep: []string{"remember_token"}},
		{name: "deleted user, remember only", client: func() *e2eClient {
			cl := remembered("10")
			form(newE2EClient(t, srv.URL, false), "/users/delete", url.Values{"id": {"10"}})
			return cl
		}, keep: []string{"remember_token"}},
		{name: "deleted user, session kept", client: func() *e2eClient {
			cl := remembered("12")
			form(newE2EClient(t, srv.URL, false), "/users/delete", url.Values{"id": {"12"}})
			return cl
		}, want: nil, session: map[string]any{"_user_id": "12", "_fresh": true, "_id": "*"}},
		{name: "forged remember_token", cookie: "remember_token=7|" + strings.Repeat("0", 128)},
		{name: "remember_token without a digest", cookie: "remember_token=7"},
		{name: "logged out", client: func() *e2eClient {
			cl := remembered("11")
			if resp := form(cl, "/logout", nil); resp.StatusCode != 200 {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
			return cl
		}},
		{name: "no cookie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pieces []string
			if tc.client != nil {
				if c := jarCookie(t, tc.client(), tc.keep); c != "" {
					pieces = append(pieces, c)
				}
			}
			if tc.cookie != "" {
				pieces = append(pieces, tc.cookie)
			}
			id, flask := askBoth(t, srv.URL, strings.Join(pieces, "; "))
			if flask != tc.want {
				t.Fatalf("Flask's own view: user %v, want %v: the test's premise fails", flask, tc.want)
			}
			if tc.session == nil {
				if id != nil {
					t.Fatalf("Go's Identity %v, want nil (anonymous, as for Flask)", id)
				}
				return
			}
			if id == nil {
				t.Fatalf("Go's Identity is nil (anonymous), Flask's user is %v", flask)
			}
			if got, ok := id["user_id"]; !ok || got != tc.want {
				t.Errorf("Go's user_id %#v, want %#v (Flask's)", got, tc.want)
			}
			sess, _ := id["session"].(map[string]any)
			if _, ok := tc.session["_id"]; ok && sess["_id"] != nil { // the session id: any value
				tc.session["_id"] = sess["_id"]
			}
			if !reflect.DeepEqual(sess, tc.session) {
				t.Errorf("Go's session %#v, want %#v (the session cookie's content)", id["session"], tc.session)
			}
		})
	}
}

// TestIdentityFlaskLoginAppContext: an app that leaves an app context
// pushed at import (db.create_all() at module level) has Flask reuse it,
// and its g where flask-login keeps the user, for every request of that
// thread. The lookup runs in an app context of its own: the user it loads
// becomes neither the user of the next Flask request nor the answer of
// the next lookup.
func TestIdentityFlaskLoginAppContext(t *testing.T) {
	_, _, srv := flaskLoginApp(t, Config{IdentityTTL: -1, Env: []string{"GRAFT_TEST_PUSH_APP_CONTEXT=1"}}, map[string]string{"7": "ada"})
	remember := jarCookie(t, flaskLogin(t, srv.URL, "7", true), []string{"remember_token"})
	anon := newE2EClient(t, srv.URL, false)
	whoamiWith := func(cookie string) Identity {
		var id Identity
		hdr := http.Header{}
		if cookie != "" {
			hdr.Set("Cookie", cookie)
		}
		anon.json("GET", "/go/whoami", hdr, nil, 200, &id)
		return id
	}
	if id := whoamiWith(remember); id.String("user_id") != "7" {
		t.Fatalf("Go, remember_token only: %v, want user_id 7", id)
	}
	var me struct {
		UserID any `json:"user_id"`
	}
	anon.json("GET", "/me", nil, nil, 200, &me)
	if me.UserID != nil {
		t.Fatalf("Flask's view without a cookie after Go's lookup: user %v, want anonymous: the lookup's user leaked into the app's context", me.UserID)
	}
	if id := whoamiWith(""); id != nil {
		t.Fatalf("Go, no cookie: %v, want nil", id)
	}
}

// TestIdentityFlaskLoginCookies: with flask-login, who is logged in
// depends on the remember cookie as well as the session cookie, and the
// cache keys on both, whatever IdentityCookies names: each visitor's
// answer is cached under its own key. Until 2026-12-02 naming only
// "session" left the remember cookie out of the key: a request with only
// a remember_token was looked up uncached once a user was found in one,
// and the ERRORs saying so came from Go and from every worker.
func TestIdentityFlaskLoginCookies(t *testing.T) {
	users := map[string]string{"7": "ada", "8": "bob"}
	for _, tc := range []struct {
		cookies []string
		warn    bool // the WARN on the cookies IdentityCookies leaves out
	}{
		{[]string{"session"}, true},
		{[]string{"session", "remember_token"}, false},
		{nil, false},
	} {
		t.Run(strings.Join(tc.cookies, ","), func(t *testing.T) {
			c, logs, srv := flaskLoginApp(t, Config{IdentityCookies: tc.cookies}, users)
			visitors := []struct{ cookie, want string }{
				{jarCookie(t, flaskLogin(t, srv.URL, "7", true), []string{"remember_token"}), "7"},
				{jarCookie(t, flaskLogin(t, srv.URL, "8", true), []string{"remember_token"}), "8"},
				{"", ""},
			}
			for round := range 2 {
				for _, v := range visitors {
					id, flask := askBoth(t, srv.URL, v.cookie)
					got := id.String("user_id")
					if got != v.want || (v.want == "" && id != nil) || (v.want != "" && flask != v.want) {
						t.Fatalf("round %d, visitor %q: Go %v, Flask %v, want user %q", round, v.want, id, flask, v.want)
					}
				}
			}
			if n := c.ident.get(c.cfg).len(); n != 3 {
				t.Errorf("%d cached identities, want 3", n)
			}
			if logged := levelLogged(logs, "WARN", "leaves out remember_token:"); logged != tc.warn {
				t.Errorf("a WARN on remember_token logged: %v, want %v; log:\n%s", logged, tc.warn, logs)
			}
			if levelLogged(logs, "ERROR", "") {
				t.Errorf("an ERROR logged; log:\n%s", logs)
			}
		})
	}
}

// levelLogged reports whether a line of logs at level (ERROR, WARN)
// contains sub.
func levelLogged(logs *pythontest.Buffer, level, sub string) bool {
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "level="+level) && strings.Contains(line, sub) {
			return true
		}
	}
	return false
}

// TestIdentityFlaskCookiesChecked: graft:flask tells Go the cookies the app
// reads its users from with its first answer, whoever the first visitor
// is, and Go logs a WARN naming those Config.IdentityCookies leaves out
// (the cache keys on them all the same). Until 2026-12-02 the worker
// logged it, at ERROR, once per worker, and an anonymous answer cached
// first could be given to a user the left-out cookie logged in.
func TestIdentityFlaskCookiesChecked(t *testing.T) {
	for _, tc := range []struct {
		app     string
		cookies []string
		want    string // in a WARN line; "": none
	}{
		{"flaskloginapp:app", []string{"session"}, "leaves out remember_token:"},
		{"flaskloginapp:app", []string{"sessionid"}, "leaves out session and remember_token:"},
		{"flaskloginapp:plain", []string{"sessionid"}, "leaves out session:"},
		{"flaskloginapp:app", []string{"session", "remember_token"}, ""},
		{"flaskloginapp:plain", []string{"session"}, ""},
		{"flaskloginapp:app", nil, ""}, // the app's cookies key the cache
	} {
		t.Run(tc.app+"/"+strings.Join(tc.cookies, ","), func(t *testing.T) {
			pythontest.Python(t, "flask", "flask_login")
			c, logs := newContainer(t, Config{App: tc.app, IdentityHook: "graft:flask", IdentityCookies: tc.cookies})
			if id, err := c.Identity(t.Context(), httptest.NewRequest("GET", "/", nil)); err != nil || id != nil {
				t.Fatalf("anonymous: %v, %v", id, err)
			}
			// Go logs it before the lookup returns.
			if tc.want != "" && !levelLogged(logs, "WARN", tc.want) {
				t.Fatalf("no WARN with %q; log:\n%s", tc.want, logs)
			}
			if tc.want == "" && levelLogged(logs, "WARN", "leaves out") {
				t.Fatalf("a WARN for cookies that are all named; log:\n%s", logs)
			}
		})
	}
}

// TestIdentityFlaskNoLoginManager: graft:flask reads the session only when
// the app has no LoginManager, flask-login imported (by another app of the
// process) or not: it does not ask a LoginManager the app does not have.
func TestIdentityFlaskNoLoginManager(t *testing.T) {
	pythontest.Python(t, "flask", "flask_login")
	c, _ := newContainer(t, Config{App: "flaskloginapp:plain", IdentityHook: "graft:flask", IdentityTTL: -1})
	srv := identityServer(t, c)
	for _, tc := range []struct {
		path string
		vals url.Values
		want Identity
	}{
		{"/login", url.Values{"id": {"5"}}, Identity{"user_id": "5", "session": map[string]any{"_user_id": "5"}}},
		{"/cart", url.Values{"item": {"tea"}}, Identity{"user_id": nil, "session": map[string]any{"cart": "tea"}}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			cl := newE2EClient(t, srv.URL, true)
			if resp := form(cl, tc.path, tc.vals); resp.StatusCode != 200 {
				t.Fatalf("%s: %d", tc.path, resp.StatusCode)
			}
			if id := whoami(t, cl); !reflect.DeepEqual(id, tc.want) {
				t.Fatalf("%v, want %v", id, tc.want)
			}
		})
	}
}
