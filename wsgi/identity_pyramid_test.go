package wsgi

import (
	"net/url"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

// The identity hook docs/migration.md shows for Pyramid (graft ships
// none): Pyramid's login view writes its signed cookie session, and Go,
// through the hook, sees the user it holds, and nobody after the logout
// or with a tampered cookie.
func TestIdentityPyramidHook(t *testing.T) {
	pythontest.Python(t, "pyramid")
	c, _ := newContainer(t, Config{App: "pyramidsession:app", IdentityHook: "pyramidsession:whoami",
		IdentityCookies: []string{"session"}})
	srv := identityServer(t, c)

	amy := newE2EClient(t, srv.URL, true)
	if id := whoami(t, amy); id != nil {
		t.Fatalf("before the login: %v", id)
	}
	if resp := form(amy, "/login", url.Values{"user": {"amy"}}); resp.StatusCode != 302 {
		t.Fatalf("Pyramid's login: %d", resp.StatusCode)
	}
	if id := whoami(t, amy); id.String("user") != "amy" {
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
}
