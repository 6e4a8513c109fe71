package main

import (
	"net/http"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// identityConfig makes the container answer identity lookups with
// graft's Django hook (Django's session and auth middleware), cached per
// sessionid cookie.
func identityConfig(cfg *wsgi.Config) {
	cfg.IdentityHook = "graft:django"
	cfg.IdentityCookies = []string{"sessionid"}
}

// identityRoutes adds GET me/ to s: the user logged in to Django (through
// the admin's login form), as graft's Django identity hook reports it
// (id, username, is_staff, is_superuser, groups), or 401 for an anonymous
// request. app must be the *wsgi.Container, else no route is added.
func identityRoutes(s *router.Router, app http.Handler) {
	c, ok := app.(*wsgi.Container)
	if !ok {
		return
	}
	s.With(c.IdentityMiddleware).Get("/me/", djangoHeaders(func(w http.ResponseWriter, r *http.Request) {
		id, _ := wsgi.IdentityFrom(r.Context())
		if id == nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not logged in to Django"})
			return
		}
		writeJSON(w, http.StatusOK, id)
	})).Name("me")
}
