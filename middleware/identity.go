package middleware

import (
	"context"
	"strings"

	"github.com/graft-dev/graft/wsgi"
)

// WithRemoteUser returns a copy of ctx that makes the WSGI container set
// REMOTE_USER to user, and AUTH_TYPE to authType when it is not empty, for
// the Python app: Go middleware that authenticated the request hands the
// identity over, and Django's RemoteUserMiddleware or Flask code reading
// request.environ["REMOTE_USER"] picks it up. An empty user returns ctx
// unchanged.
//
// Note: only Go code can set these keys. Clients send headers, which become
// HTTP_* keys, and the container drops headers containing "_"; so neither
// "Remote-User" (HTTP_REMOTE_USER) nor "Remote_User" can reach
// REMOTE_USER. Make sure the Python side reads REMOTE_USER, not
// HTTP_REMOTE_USER.
func WithRemoteUser(ctx context.Context, user, authType string) context.Context {
	if user == "" {
		return ctx
	}
	ctx = wsgi.WithEnviron(ctx, "REMOTE_USER", user)
	if authType != "" {
		ctx = wsgi.WithEnviron(ctx, "AUTH_TYPE", authType)
	}
	return ctx
}

// RemoteUser returns the user set with [WithRemoteUser], or "".
func RemoteUser(ctx context.Context) string {
	return wsgi.ExtraEnviron(ctx)["REMOTE_USER"]
}

// WithEnviron returns a copy of ctx that passes key=value to the Python
// app's environ, for keys under "graft." ("graft.user_roles",
// "graft.tenant"): lower-case letters, digits, "." and "_". Other keys
// are programmer errors and panic with a "middleware: " prefix; use
// [WithRemoteUser] for REMOTE_USER and AUTH_TYPE.
func WithEnviron(ctx context.Context, key, value string) context.Context {
	if !strings.HasPrefix(key, "graft.") || key == "graft." {
		panic("middleware: WithEnviron: key " + key + " is not under graft.")
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			panic("middleware: WithEnviron: invalid key " + key)
		}
	}
	return wsgi.WithEnviron(ctx, key, value)
}
