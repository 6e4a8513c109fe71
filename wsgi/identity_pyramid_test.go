package wsgi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// pyramidApp starts testdata/pyramidauth.py with the security policy
// policy under graft:pyramid, cached for an hour, behind identityServer
// (or remoteUserServer, whose X-Test-Remote-User header is REMOTE_USER).
func pyramidApp(t *testing.T, policy string) (*Container, string) {
	t.Helper()
	pythontest.Python(t, "pyramid")
	c, _ := newContainer(t, Config{App: "pyramidauth:app", Env: []string{"GRAFT_TEST_POLICY=" + policy},
		IdentityHook: "graft:pyramid", IdentityTTL: time.Hour})
	if policy == "remoteuser" {
		return c, remoteUserServer(t, c).URL
	}
	return c, identityServer(t, c).URL
}

// askPyramid asks Go's /go/whoami, then Pyramid's own /py/whoami
// (request.authenticated_userid in a view), with cl's cookies and hdr,
// and returns both.
func askPyramid(t *testing.T, cl *e2eClient, hdr http.Header) (Identity, any) {
	t.Helper()
	var id Identity
	cl.json("GET", "/go/whoami", hdr, nil, 200, &id)
	var py struct {
		UserID any `json:"user_id"`
	}
	cl.json("GET", "/py/whoami", hdr, nil, 200, &py)
	return id, py.UserID
}

// TestIdentityPyramid: graft:pyramid through real logins. For a Pyramid
// 2 security policy keeping the user in the session
// (SessionAuthenticationHelper) or in an auth_tkt cookie bound to the
// client's address (AuthTktCookieHelper, include_ip), and Pyramid 1's
// AuthTktAuthenticationPolicy through the legacy bridge, the login view
// remembers the user and fills the session: Go sees the user id Pyramid's
// views see and the session, nobody for an anonymous visitor (with an
// unrelated cookie too), a tampered ticket or session, a ticket of a user
// the policy does not know, and after the logout; amy's and bob's answers
// stay apart in the cache, which keys on what the policy read: the
// cookies by name (not theme), the address with include_ip.
func TestIdentityPyramid(t *testing.T) {
	for _, tc := range []struct {
		policy     string
		cookies    []string
		remoteAddr bool
	}{
		{"session", []string{"session"}, false},
		{"authtkt", []string{"auth_tkt", "session"}, true},
		{"legacy", []string{"auth_tkt", "session"}, false},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			c, base := pyramidApp(t, tc.policy)
			anon := newE2EClient(t, base, true)
			if id, py := askPyramid(t, anon, nil); id != nil || py != nil {
				t.Fatalf("anonymous: Go %v, Pyramid %v", id, py)
			}
			login := func(user string) *e2eClient {
				cl := newE2EClient(t, base, true)
				if resp := form(cl, "/login", url.Values{"user": {user}}); resp.StatusCode != 302 {
					t.Fatalf("Pyramid's login: %d", resp.StatusCode)
				}
				return cl
			}
			amy, bob, eve := login("amy"), login("bob"), login("eve") // eve: unknown to the policy
			for round := range 2 {
				for _, v := range []struct {
					name string
					cl   *e2eClient
					hdr  http.Header
					want string
				}{
					{"anonymous", anon, nil, ""},
					{"anonymous with a theme", newE2EClient(t, base, false), http.Header{"Cookie": {"theme=dark"}}, ""},
					{"amy", amy, nil, "amy"},
					{"amy with a theme", amy, http.Header{"Cookie": {"theme=light"}}, "amy"},
					{"bob", bob, nil, "bob"},
				} {
					id, py := askPyramid(t, v.cl, v.hdr)
					if v.want == "" {
						if id != nil || py != nil {
							t.Fatalf("round %d, %s: Go %v, Pyramid %v", round, v.name, id, py)
						}
						continue
					}
					if id.String("user_id") != v.want || py != v.want {
						t.Fatalf("round %d, %s: Go %v, Pyramid %v, want %s", round, v.name, id, py, v.want)
					}
					want := map[string]any{"cart": map[string]any{"apples": "2"}}
					if tc.policy == "session" {
						want["auth.userid"] = v.want
					}
					if got := jsonNumbersAsStrings(id["session"]); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s's session: %v, want %v", v.want, id["session"], want)
					}
				}
			}
			// With include_ip, the policy reads the address only for a
			// request with a ticket: the anonymous answer looked up before
			// that is cached under a key without it, which no request has
			// since.
			want := 3
			if tc.remoteAddr {
				want = 4
			}
			if n := c.ident.get(c.cfg).len(); n != want {
				t.Errorf("%d cached identities, want %d (anonymous, amy, bob)", n, want)
			}
			// eve: a ticket (or session) the policy refuses; her session
			// holds a cart all the same.
			if id, py := askPyramid(t, eve, nil); id == nil || id["user_id"] != nil || py != nil {
				t.Errorf("eve: Go %v, Pyramid %v; want a session and no user", id, py)
			}
			spec := c.ident.learned.spec.Load()
			if spec == nil || !slices.Equal(spec.cookies, tc.cookies) || spec.remoteAddr != tc.remoteAddr ||
				len(spec.headers) != 0 || len(spec.environ) != 0 || spec.query || spec.noCache != "" {
				t.Errorf("the cache keys on %+v, want the cookies %v, the address %v", spec, tc.cookies, tc.remoteAddr)
			}
			// Tampered cookies: nobody.
			for _, name := range tc.cookies {
				cookie := jarCookie(t, amy, []string{name})
				k, v, _ := strings.Cut(cookie, "=")
				bad := k + "=" + v[:len(v)/2] + "x" + v[len(v)/2+1:]
				id, py := askPyramid(t, newE2EClient(t, base, false), http.Header{"Cookie": {bad}})
				if id != nil || py != nil {
					t.Errorf("tampered %s: Go %v, Pyramid %v", name, id, py)
				}
			}
			if resp := form(amy, "/logout", nil); resp.StatusCode != 302 {
				t.Fatalf("Pyramid's logout: %d", resp.StatusCode)
			}
			if id, py := askPyramid(t, amy, nil); id != nil || py != nil {
				t.Errorf("after the logout: Go %v, Pyramid %v", id, py)
			}
		})
	}
}

// jsonNumbersAsStrings returns v with its numbers as their text, to
// compare with a literal.
func jsonNumbersAsStrings(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = jsonNumbersAsStrings(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonNumbersAsStrings(e)
		}
		return out
	case json.Number, float64:
		return fmt.Sprint(x)
	}
	return v
}

// TestIdentityPyramidHeaders: Pyramid 1's BasicAuthAuthenticationPolicy
// (the Authorization header) and RemoteUserAuthenticationPolicy
// (REMOTE_USER, set by Go's authentication) under graft:pyramid: Go sees
// the user Pyramid's views see, and the cache keys on the header or on
// REMOTE_USER, so that amy's answer is never bob's or an anonymous one.
func TestIdentityPyramidHeaders(t *testing.T) {
	basic := func(user, pw string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}}
	}
	remote := func(user string) http.Header { return http.Header{"X-Test-Remote-User": {user}} }
	for _, tc := range []struct {
		policy  string
		headers []string
		environ []string
		asks    []struct {
			hdr  http.Header
			want string
		}
	}{
		{"basic", []string{"Authorization"}, nil, []struct {
			hdr  http.Header
			want string
		}{{nil, ""}, {basic("amy", "pw-amy"), "amy"}, {basic("bob", "pw-bob"), "bob"}, {basic("amy", "wrong"), ""}, {basic("eve", "pw-eve"), ""}}},
		{"remoteuser", nil, []string{"REMOTE_USER"}, []struct {
			hdr  http.Header
			want string
		}{{nil, ""}, {remote("amy"), "amy"}, {remote("bob"), "bob"}, {remote("eve"), ""}}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			c, base := pyramidApp(t, tc.policy)
			for round := range 2 {
				for _, a := range tc.asks {
					id, py := askPyramid(t, newE2EClient(t, base, false), a.hdr)
					if id.String("user_id") != a.want || (a.want == "" && (id != nil || py != nil)) || (a.want != "" && py != a.want) {
						t.Fatalf("round %d, %v: Go %v, Pyramid %v, want %q", round, a.hdr, id, py, a.want)
					}
				}
			}
			spec := c.ident.learned.spec.Load()
			if spec == nil || !slices.Equal(spec.cookies, []string{"session"}) || !slices.Equal(spec.headers, tc.headers) ||
				!slices.Equal(spec.environ, tc.environ) || spec.remoteAddr || spec.noCache != "" {
				t.Errorf("the cache keys on %+v, want the session cookie, the headers %v, the environ %v", spec, tc.headers, tc.environ)
			}
		})
	}
}

// TestIdentityPyramidHook: graft:pyramid in an app with a session and no
// security policy (testdata/pyramidsession.py, whose login view keeps the
// user in the session): Go sees the session, and nobody with a forged
// cookie or after request.session.invalidate(). Until graft shipped
// graft:pyramid, docs/migration.md showed the app's own hook this app
// still has (pyramidsession:whoami), which gives the same users.
func TestIdentityPyramidHook(t *testing.T) {
	pythontest.Python(t, "pyramid")
	for _, hook := range []string{"graft:pyramid", "pyramidsession:whoami"} {
		t.Run(hook, func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "pyramidsession:app", IdentityHook: hook, IdentityCookies: []string{"session"}})
			srv := identityServer(t, c)
			user := func(id Identity) string {
				if hook == "graft:pyramid" {
					if id != nil && id["user_id"] != nil {
						t.Fatalf("no security policy, and a user id: %v", id)
					}
					s, _ := id["session"].(map[string]any)
					u, _ := s["user"].(string)
					return u
				}
				return id.String("user")
			}
			amy := newE2EClient(t, srv.URL, true)
			if id := whoami(t, amy); id != nil {
				t.Fatalf("before the login: %v", id)
			}
			if resp := form(amy, "/login", url.Values{"user": {"amy"}}); resp.StatusCode != 302 {
				t.Fatalf("Pyramid's login: %d", resp.StatusCode)
			}
			if id := whoami(t, amy); user(id) != "amy" {
				t.Fatalf("after the login: %v, want amy", id)
			}
			forged := newE2EClient(t, srv.URL, false)
			var id Identity
			forged.json("GET", "/go/whoami", map[string][]string{"Cookie": {"session=xabc"}}, nil, 200, &id)
			if id != nil {
				t.Fatalf("a forged session cookie: %v, want nobody", id)
			}
			if resp := form(amy, "/logout", nil); resp.StatusCode != 302 {
				t.Fatalf("Pyramid's logout: %d", resp.StatusCode)
			}
			if id := whoami(t, amy); id != nil {
				t.Fatalf("after the logout: %v", id)
			}
		})
	}
}
