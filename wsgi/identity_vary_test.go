package wsgi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// End-to-end tests of what the identity cache keys on with graft's own
// hooks: what the app's answer depends on, as the hook reports it (the
// cookies the app reads its users from, flask-login's session protection,
// a request_loader), whatever Config.IdentityCookies names.

// TestIdentityAnonymousFirst: an anonymous answer, looked up first, is
// never given to a logged-in visitor, even with IdentityCookies that miss
// a cookie the app reads its users from. Until 2026-12-02 it was cached
// under the key of every request without the named cookies, and a user
// who came back with only flask-login's remember cookie (IdentityCookies
// "session"), or with the session cookie of an app whose cookie
// IdentityCookies misnames, was anonymous on Go's routes for IdentityTTL.
// Each visitor's answer is cached under its own key all the same, and
// cookies the app does not read do not split the cache.
func TestIdentityAnonymousFirst(t *testing.T) {
	for _, cookies := range [][]string{{"session"}, {"sessionid"}, nil} {
		t.Run("flask/"+strings.Join(cookies, ","), func(t *testing.T) {
			c, _, srv := flaskLoginApp(t, Config{IdentityCookies: cookies, IdentityTTL: time.Hour}, map[string]string{"7": "ada", "8": "bob"})
			remember := jarCookie(t, flaskLogin(t, srv.URL, "7", true), []string{"remember_token"})
			sess := jarCookie(t, flaskLogin(t, srv.URL, "8", false), nil)
			for round := range 2 {
				for _, v := range []struct{ name, cookie, want string }{
					{"anonymous", "", ""},
					{"anonymous with an unrelated cookie", "theme=dark", ""},
					{"remember cookie only", remember, "7"},
					{"session", sess + "; theme=dark", "8"},
				} {
					id, flask := askBoth(t, srv.URL, v.cookie)
					if got := id.String("user_id"); got != v.want || (v.want == "" && id != nil) || (v.want != "" && flask != v.want) {
						t.Fatalf("round %d, %s: Go %v, Flask's user %v, want user %q", round, v.name, id, flask, v.want)
					}
				}
			}
			if n := c.ident.get(c.cfg).len(); n != 3 {
				t.Errorf("%d cached identities, want 3 (anonymous, ada, bob)", n)
			}
		})
	}
	for _, cookies := range [][]string{{"session"}, nil} {
		t.Run("django/"+strings.Join(cookies, ","), func(t *testing.T) {
			env := djangoUsers(t)
			c, _ := newContainer(t, Config{App: "rmdjango.wsgi:application", Env: env, Threads: 2,
				IdentityHook: "graft:django", IdentityCookies: cookies, IdentityTTL: time.Hour})
			srv := identityServer(t, c)
			anon := newE2EClient(t, srv.URL, true)
			if id := whoami(t, anon); id != nil {
				t.Fatalf("anonymous: %v", id)
			}
			ada, bob := djangoLogin(t, srv.URL, "ada"), djangoLogin(t, srv.URL, "bob")
			for round := range 2 {
				for _, v := range []struct {
					cl   *e2eClient
					want string
				}{{anon, ""}, {ada, "ada"}, {bob, "bob"}} {
					if id := whoami(t, v.cl); id.String("username") != v.want || (v.want == "" && id != nil) {
						t.Fatalf("round %d: %v, want user %q", round, id, v.want)
					}
				}
			}
			if n := c.ident.get(c.cfg).len(); n != 3 {
				t.Errorf("%d cached identities, want 3 (anonymous, ada, bob)", n)
			}
		})
	}
}

// TestIdentityFlaskSessionProtection: flask-login's SESSION_PROTECTION
// binds a session to the client's address (X-Forwarded-For, else
// REMOTE_ADDR) and User-Agent: "strong" logs a session cookie replayed
// from elsewhere out, "basic" makes its login not fresh. Go's answer does
// the same, cached or not ("basic" is flask-login's default): until 2026-12-02 the answer cached for the
// session's own client was given to the replayed cookie, logged in (and
// fresh) on Go's routes while Flask logged it out.
func TestIdentityFlaskSessionProtection(t *testing.T) {
	for _, mode := range []string{"strong", "basic", "", "none"} { // "": flask-login's default, basic
		t.Run("protection="+mode, func(t *testing.T) {
			c, _, srv := flaskLoginApp(t, Config{IdentityTTL: time.Hour, Env: []string{"GRAFT_TEST_SESSION_PROTECTION=" + mode}},
				map[string]string{"7": "ada"})
			sess := jarCookie(t, flaskLogin(t, srv.URL, "7", false), nil)
			moved := mode != "none" // whether flask-login sees another client
			for round := range 2 {
				for _, v := range []struct {
					name string
					hdr  map[string]string
					same bool // the client that logged in
				}{
					{"the session's client", nil, true},
					{"another User-Agent", map[string]string{"User-Agent": "thief/1.0"}, false},
					{"another address", map[string]string{"X-Forwarded-For": "203.0.113.9"}, false},
					{"the session's client again", nil, true},
				} {
					hdr := http.Header{"Cookie": {sess}}
					for k, val := range v.hdr {
						hdr.Set(k, val)
					}
					id, flask := askBothHeader(t, srv.URL, hdr)
					wantUser, wantFresh := any("7"), true
					if moved && !v.same {
						wantFresh = false
						if mode == "strong" {
							wantUser = nil
						}
					}
					if flask.UserID != wantUser || flask.Fresh != wantFresh {
						t.Fatalf("round %d, %s: Flask's view: %+v, want user %v, fresh %v: the test's premise fails", round, v.name, flask, wantUser, wantFresh)
					}
					if id == nil || id["user_id"] != wantUser || id["fresh"] != wantFresh {
						t.Fatalf("round %d, %s: Go's Identity %v, want user_id %v and fresh %v, as Flask's", round, v.name, id, wantUser, wantFresh)
					}
				}
			}
			if n := c.ident.get(c.cfg).len(); !moved && n != 1 {
				t.Errorf("without session protection, %d cached identities for one session cookie, want 1", n)
			}
		})
	}
}

// TestIdentityFlaskRequestLoader: an app whose flask-login has a
// request_loader may find its user in any part of the request (here an
// X-Api-Key header, else an api_key query argument, else an api_token
// cookie). graft:flask records what each lookup read and Go keys the
// cache on all that any lookup read: answers are cached, and two requests
// share one only when they agree on everything the loader read. Until
// 2026-12-02 such answers were never cached (every lookup a call to
// Python), and before that the answer for a session cookie without the
// header was given to the same cookie with one.
func TestIdentityFlaskRequestLoader(t *testing.T) {
	c, logs, srv := flaskLoginApp(t, Config{IdentityTTL: time.Hour, Env: []string{"GRAFT_TEST_REQUEST_LOADER=1"}},
		map[string]string{"7": "ada", "8": "bob"})
	cart := newE2EClient(t, srv.URL, true)
	if resp := form(cart, "/cart", url.Values{"item": {"tea"}}); resp.StatusCode != 200 {
		t.Fatalf("cart: %d", resp.StatusCode)
	}
	session := jarCookie(t, cart, nil)
	cases := []struct {
		name, cookie, key, query string
		want                     any
	}{
		{"session, no key", session, "", "", nil},
		{"session, ada's key", session, "key-7", "", "7"},
		{"no cookie, bob's key", "", "key-8", "", "8"},
		{"no cookie, no key", "", "", "", nil},
		{"no cookie, ada's key", "", "key-7", "", "7"},
		{"ada's key, an unrelated cookie", "theme=dark", "key-7", "", "7"},
		{"bob's query key", "", "", "api_key=key-8", "8"},
		{"ada's query key", "", "", "api_key=key-7", "7"},
		{"ada's header key, bob's query key", "", "key-7", "api_key=key-8", "7"},
		{"another query", "", "", "page=2", nil},
		{"bob's token cookie", "api_token=key-8", "", "", "8"},
		{"ada's token cookie, an unrelated one", "theme=dark; api_token=key-7", "", "", "7"},
		{"session and bob's token cookie", session + "; api_token=key-8", "", "", "8"},
		{"an unrelated cookie", "theme=dark", "", "", nil},
	}
	for round := range 3 {
		for _, v := range cases {
			hdr := http.Header{}
			if v.cookie != "" {
				hdr.Set("Cookie", v.cookie)
			}
			if v.key != "" {
				hdr.Set("X-Api-Key", v.key)
			}
			id, flask := askBothQuery(t, srv.URL, hdr, v.query)
			if flask.UserID != v.want {
				t.Fatalf("round %d, %s: Flask's user %v, want %v: the test's premise fails", round, v.name, flask.UserID, v.want)
			}
			var got any
			if id != nil {
				got = id["user_id"]
			}
			if got != v.want {
				t.Fatalf("round %d, %s: Go's Identity %v, want user_id %v, as Flask's", round, v.name, id, v.want)
			}
		}
	}
	if n := c.ident.get(c.cfg).len(); n == 0 {
		t.Errorf("nothing cached: every lookup asked Python")
	}
	// Every case is in the cache now: a lookup with a context already
	// done, which a call to Python would fail, answers each.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, v := range cases {
		r := httptest.NewRequestWithContext(done, "GET", "/go/whoami?"+v.query, nil)
		r.RemoteAddr = "127.0.0.1:1"                     // the test client's, which session protection reads
		r.Header.Set("User-Agent", "Go-http-client/1.1") // likewise
		if v.cookie != "" {
			r.Header.Set("Cookie", v.cookie)
		}
		if v.key != "" {
			r.Header.Set("X-Api-Key", v.key)
		}
		id, err := c.Identity(done, r)
		if err != nil {
			t.Errorf("%s: not from the cache: %v", v.name, err)
			continue
		}
		var got any
		if id != nil {
			got = id["user_id"]
		}
		if got != v.want {
			t.Errorf("%s, from the cache: %v, want user_id %v", v.name, id, v.want)
		}
	}
	if strings.Contains(logs.String(), "not cached") {
		t.Errorf("the answers were said not to be cached:\n%s", logs)
	}
}

// TestIdentityFlaskRequestLoaderBody: a request_loader that reads the
// request body (a form field), which a lookup does not have, is not
// cached, and an INFO line says why.
func TestIdentityFlaskRequestLoaderBody(t *testing.T) {
	c, logs, srv := flaskLoginApp(t, Config{IdentityTTL: time.Hour, Env: []string{"GRAFT_TEST_REQUEST_LOADER=body"}},
		map[string]string{"7": "ada"})
	for range 2 {
		if id, flask := askBothHeader(t, srv.URL, nil); id != nil || flask.UserID != nil {
			t.Fatalf("anonymous: Go %v, Flask %v", id, flask.UserID)
		}
	}
	if n := c.ident.get(c.cfg).len(); n != 0 {
		t.Errorf("%d cached identities, want none", n)
	}
	if !levelLogged(logs, "INFO", "the request body") {
		t.Errorf("no INFO naming the request body:\n%s", logs)
	}
}

// TestIdentityCookiesLoggedOnce: IdentityCookies that leave out a cookie
// the app reads its users from are reported once per container, not
// once by every worker (until 2026-12-02 each worker logged an ERROR at
// its first lookup).
func TestIdentityCookiesLoggedOnce(t *testing.T) {
	pythontest.Python(t, "flask", "flask_login")
	c, logs := newContainer(t, Config{App: "flaskloginapp:app", IdentityHook: "graft:flask", IdentityCookies: []string{"session"},
		IdentityTTL: -1, Workers: 3})
	for range 3 {
		var wg sync.WaitGroup
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _ := http.NewRequestWithContext(t.Context(), "GET", "http://example.com/", nil)
				if id, err := c.Identity(t.Context(), r); err != nil || id != nil {
					t.Errorf("anonymous: %v, %v", id, err)
				}
			}()
		}
		wg.Wait()
	}
	n := 0
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "IdentityCookies") && strings.Contains(line, "remember_token") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d lines on the cookies IdentityCookies leaves out, want 1; log:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("not at level WARN; log:\n%s", logs)
	}
}

// TestIdentityCookiesUnlisted: a hook of the app's own keyed on
// IdentityCookies that leave out a cookie it reads its users from (here
// flask-login's remember cookie, with "session" named) may cache an
// anonymous answer that a request carrying that cookie would not get.
// The first request carrying a cookie IdentityCookies does not name (and
// again once per IdentityTTL) is looked up afresh as well: when Python's
// answer differs from the cached one, that request gets Python's, a WARN
// names the cookie (once), and from then on the cache keys on that
// request's unlisted cookies too, so that every later request carrying
// the remember cookie (the same user's again, another user's) gets its
// own answer. Until 2026-12-02 the cached anonymous answer was given to
// the first such request silently; until 2026-12-03 it was given to the
// later ones (ada's second request, bob's) for IdentityTTL.
func TestIdentityCookiesUnlisted(t *testing.T) {
	pythontest.Python(t, "flask", "flask_login")
	c, logs := newContainer(t, Config{App: "flaskloginapp:app", IdentityHook: "flaskloginapp:whoami_hook",
		IdentityCookies: []string{"session"}, IdentityTTL: time.Hour})
	srv := identityServer(t, c)
	for id, name := range map[string]string{"7": "ada", "8": "bob"} {
		if resp := form(newE2EClient(t, srv.URL, false), "/users", url.Values{"id": {id}, "name": {name}}); resp.StatusCode != 200 {
			t.Fatalf("adding user %s: %d", name, resp.StatusCode)
		}
	}
	ada := jarCookie(t, flaskLogin(t, srv.URL, "7", true), []string{"remember_token"})
	bob := jarCookie(t, flaskLogin(t, srv.URL, "8", true), []string{"remember_token"})
	for _, v := range []struct {
		name, cookie string
		want         any
	}{
		{"anonymous (cached)", "", nil},
		{"an unrelated cookie", "theme=dark", nil},
		{"ada's remember cookie only (checked)", ada, "7"},
		{"ada's remember cookie again", ada, "7"},
		{"bob's remember cookie", bob, "8"},
		{"bob's remember cookie again (cached)", bob, "8"},
		{"anonymous again", "", nil},
		{"the unrelated cookie again", "theme=dark", nil},
		{"ada's remember cookie and the unrelated one", ada + "; theme=dark", "7"},
	} {
		id, flask := askBoth(t, srv.URL, v.cookie)
		if flask != v.want {
			t.Fatalf("%s: Flask's user %v, want %v: the test's premise fails", v.name, flask, v.want)
		}
		var got any
		if id != nil {
			got = id["user_id"]
		}
		if got != v.want {
			t.Errorf("%s: Go's Identity %v, want user_id %v, as Flask's", v.name, id, v.want)
		}
	}
	if !levelLogged(logs, "WARN", "remember_token") || !strings.Contains(logs.String(), "IdentityCookies") {
		t.Errorf("no WARN naming remember_token and IdentityCookies:\n%s", logs)
	}
	if n := strings.Count(logs.String(), "keys on the cookies"); n != 1 {
		t.Errorf("%d lines say what the cache keys on now, want 1:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), `\"theme\"`) {
		t.Errorf("a WARN names the unrelated cookie theme:\n%s", logs)
	}
}
