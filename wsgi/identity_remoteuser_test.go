package wsgi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// remoteUserServer serves c as identityServer does, behind a stand-in for
// Go's authentication: the test's X-Test-Remote-User header becomes the
// environ's REMOTE_USER (middleware.WithRemoteUser's way, through
// WithEnviron) for Go's routes and Python's alike.
func remoteUserServer(t *testing.T, c *Container) *httptest.Server {
	t.Helper()
	inner := identityServer(t, c).Config.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-Remote-User"); u != "" {
			r = r.WithContext(WithEnviron(r.Context(), "REMOTE_USER", u))
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// askDjango asks Go's /go/whoami, then Django's /me/ (which may log a user
// in or out, and so comes second), with the headers hdr, and returns the
// usernames each found ("" for anonymous).
func askDjango(t *testing.T, base string, hdr http.Header) (goUser, djangoUser string) {
	t.Helper()
	cl := newE2EClient(t, base, false)
	resp, body := cl.do("GET", "/go/whoami", hdr, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("Go's /go/whoami: %d %s", resp.StatusCode, body)
	}
	var id Identity
	if err := json.Unmarshal(body, &id); err != nil {
		t.Fatalf("Go's /go/whoami: %v: %s", err, body)
	}
	if id != nil && id.String("username") == "" {
		t.Fatalf("Go's /go/whoami: an identity without a username: %s", body)
	}
	var me struct {
		Username *string `json:"username"`
	}
	cl.json("GET", "/me/", hdr, nil, 200, &me)
	if me.Username != nil {
		djangoUser = *me.Username
	}
	return id.String("username"), djangoUser
}

// TestIdentityDjangoRemoteUser: a Django project that logs its users in
// from REMOTE_USER (RemoteUserMiddleware or PersistentRemoteUserMiddleware
// in MIDDLEWARE, with RemoteUserBackend), set by Go's authentication
// (middleware.WithRemoteUser) or read from a front proxy's header by a
// subclass: graft:django finds the user Django's middleware finds, with
// the app's backend, cached per REMOTE_USER. Until 2026-12-02 it ran the
// session and get_user only: Go's routes saw the session's user (none
// for a request authenticated by Go alone) where Django's views saw
// REMOTE_USER's.
func TestIdentityDjangoRemoteUser(t *testing.T) {
	ru := func(user string) http.Header { return http.Header{"X-Test-Remote-User": {user}} }
	withCookie := func(h http.Header, cookie string) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Cookie", cookie)
		return h
	}
	for _, mode := range []string{"persistent", "remote"} {
		t.Run(mode, func(t *testing.T) {
			env := append(djangoUsers(t), "GRAFT_TEST_REMOTE_USER="+mode)
			c, _ := newContainer(t, Config{App: "rmdjango.wsgi:application", Env: env, Threads: 2,
				IdentityHook: "graft:django", IdentityTTL: time.Hour})
			srv := remoteUserServer(t, c)
			bob := jarCookie(t, djangoLogin(t, srv.URL, "bob"), nil) // ModelBackend's login
			// A session RemoteUserMiddleware logged ada in to, with
			// RemoteUserBackend.
			adaCl := newE2EClient(t, srv.URL, true)
			adaCl.json("GET", "/me/", ru("ada"), nil, 200, nil)
			adaRemote := jarCookie(t, adaCl, nil)
			if !strings.Contains(adaRemote, "sessionid=") {
				t.Fatalf("no session after RemoteUserMiddleware's login: %q", adaRemote)
			}
			sessionOnly := "ada" // no REMOTE_USER: the persistent variant keeps it
			if mode == "remote" {
				sessionOnly = "" // RemoteUserMiddleware logs it out
			}
			for _, v := range []struct {
				name string
				hdr  http.Header
				want string
			}{
				{"anonymous", nil, ""},
				{"REMOTE_USER ada", ru("ada"), "ada"},
				{"REMOTE_USER bob", ru("bob"), "bob"},
				{"REMOTE_USER of a new user", ru("newbie"), "newbie"}, // RemoteUserBackend creates it
				{"REMOTE_USER ada again", ru("ada"), "ada"},
				{"bob's session", withCookie(nil, bob), "bob"}, // ModelBackend's: kept without REMOTE_USER
				{"bob's session, REMOTE_USER ada", withCookie(ru("ada"), bob), "ada"},
				{"ada's REMOTE_USER session without REMOTE_USER", withCookie(nil, adaRemote), sessionOnly},
			} {
				goUser, djangoUser := askDjango(t, srv.URL, v.hdr)
				if djangoUser != v.want {
					t.Fatalf("%s: Django's request.user %q, want %q: the test's premise fails", v.name, djangoUser, v.want)
				}
				if goUser != v.want {
					t.Errorf("%s: Go's Identity has user %q, want %q, as Django's", v.name, goUser, v.want)
				}
			}
			// From the cache, still per REMOTE_USER.
			for _, u := range []string{"ada", "bob", ""} {
				var h http.Header
				if u != "" {
					h = ru(u)
				}
				cl := newE2EClient(t, srv.URL, false)
				var id Identity
				cl.json("GET", "/go/whoami", h, nil, 200, &id)
				if id.String("username") != u {
					t.Errorf("cached, REMOTE_USER %q: %v", u, id)
				}
			}
			if n := c.ident.get(c.cfg).len(); n == 0 {
				t.Errorf("nothing cached")
			}
		})
	}
	t.Run("header", func(t *testing.T) {
		env := append(djangoUsers(t), "GRAFT_TEST_REMOTE_USER=header")
		c, _ := newContainer(t, Config{App: "rmdjango.wsgi:application", Env: env, Threads: 2,
			IdentityHook: "graft:django", IdentityTTL: time.Hour})
		srv := remoteUserServer(t, c)
		hdr := func(user string) http.Header { return http.Header{"X-Auth-User": {user}} }
		for round := range 2 {
			for _, v := range []struct {
				name string
				hdr  http.Header
				want string
			}{
				{"no header", nil, ""},
				{"X-Auth-User ada", hdr("ada"), "ada"},
				{"X-Auth-User bob", hdr("bob"), "bob"},
				{"REMOTE_USER, which this middleware does not read", ru("ada"), ""},
			} {
				goUser, djangoUser := askDjango(t, srv.URL, v.hdr)
				if djangoUser != v.want {
					t.Fatalf("round %d, %s: Django's request.user %q, want %q: the test's premise fails", round, v.name, djangoUser, v.want)
				}
				if goUser != v.want {
					t.Errorf("round %d, %s: Go's Identity has user %q, want %q, as Django's", round, v.name, goUser, v.want)
				}
			}
		}
		if n := c.ident.get(c.cfg).len(); n == 0 {
			t.Errorf("nothing cached")
		}
	})
}
