package middleware

import (
	"context"

	"github.com/graft-dev/graft/wsgi"
)

// WithRemoteUser returns a copy of ctx that makes the WSGI container set
// REMOTE_USER to user, and AUTH_TYPE to authType when it is not empty, for
// the Python app: Go middleware that authenticated the request hands the
// identity over, and Django's RemoteUserMiddleware or Flask code reading
// request.environ["REMOTE_USER"] picks it up. An empty user returns ctx
// unchanged.
//
// Other facts go to Python as graft.* environ keys with
// [github.com/graft-dev/graft/wsgi.WithEnviron], the one rule for extra
// environ keys.
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
