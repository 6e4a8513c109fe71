package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

func TestWithRemoteUser(t *testing.T) {
	ctx := WithRemoteUser(context.Background(), "alice", "Bearer")
	ctx = wsgi.WithEnviron(ctx, "graft.roles", "admin,dev")
	want := map[string]string{"REMOTE_USER": "alice", "AUTH_TYPE": "Bearer", "graft.roles": "admin,dev"}
	if got := wsgi.ExtraEnviron(ctx); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := RemoteUser(ctx); got != "alice" {
		t.Errorf("RemoteUser: got %q", got)
	}
	if got := wsgi.ExtraEnviron(WithRemoteUser(context.Background(), "", "Basic")); got != nil {
		t.Errorf("empty user: got %v, want nothing", got)
	}
}

// A client cannot set REMOTE_USER, AUTH_TYPE or graft.* keys through the
// middlewares: headers never become extra environ keys.
func TestIdentitySpoofing(t *testing.T) {
	var env map[string]string
	var user string
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env, user = wsgi.ExtraEnviron(r.Context()), RemoteUser(r.Context())
	})
	p := MustParseProxies("10.0.0.0/8")
	r := router.New()
	r.Use(Stack(Options{Proxies: p, Logger: nil}))
	r.Get("/go", func(http.ResponseWriter, *http.Request) {})
	r.Fallback(&fallback.Handler{App: app})

	for _, peer := range []string{"203.0.113.7:1", "10.0.0.1:1"} {
		req := httptest.NewRequest("GET", "/legacy", nil)
		req.RemoteAddr = peer
		for _, h := range []string{"Remote-User", "Remote_User", "REMOTE_USER", "X-Remote-User", "Auth-Type", "Auth_Type",
			"Graft.request_id", "Graft-Request-Id", "Graft.remote_user"} {
			req.Header[h] = []string{"admin"}
		}
		req.Header.Set("X-Request-ID", "admin")
		r.ServeHTTP(httptest.NewRecorder(), req)
		if user != "" {
			t.Errorf("peer %s: RemoteUser %q", peer, user)
		}
		if len(env) != 1 || env["graft.request_id"] == "" {
			t.Errorf("peer %s: extra environ %v, want only graft.request_id", peer, env)
		}
		if peer == "203.0.113.7:1" && env["graft.request_id"] == "admin" {
			t.Errorf("untrusted client chose its request id")
		}
	}
}
