package main

import (
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/graft-dev/graft/migrate/session"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// The Go routes that share Flask's session, with no call into Python
// (package migrate/session reads and signs Flask's cookie with the app's
// SECRET_KEY):
//
//   - GET <mount>/api/cart: the cart that Flask keeps in its session (set
//     it with the product pages' form), as JSON;
//   - GET and POST <mount>/login: the login moved to Go. It puts the user
//     in Flask's session, next to the cart, and the Flask pages (the nav
//     bar, <mount>/account) show them logged in;
//   - POST <mount>/logout: takes the user out of the session.
//
// The demo users are alice (password "wonderland") and bob ("builder").

// registerSession adds the session routes to s, the router of the shop
// under mount, with the key that app's Flask workers sign their session
// with. Without one (app is not a graft container that passes
// SHOP_SECRET_KEY to its workers), it adds nothing: Go could not read the
// session.
func registerSession(s *router.Router, app http.Handler, mount string) {
	key := shopSecret(app)
	if key == "" {
		return
	}
	h := &sessionRoutes{flask: &session.Flask{SecretKey: key}, mount: mount}
	s.Get("/api/cart", h.cart).Name("api_cart")
	s.Get("/login", h.loginForm).Name("login")
	s.Post("/login", h.login)
	s.Post("/logout", h.logout).Name("logout")
}

// shopSecret returns the SHOP_SECRET_KEY that app's workers got, or "".
func shopSecret(app http.Handler) string {
	c, ok := app.(interface{ Config() wsgi.Config })
	if !ok {
		return ""
	}
	for _, kv := range c.Config().Env {
		if v, ok := strings.CutPrefix(kv, "SHOP_SECRET_KEY="); ok {
			return v
		}
	}
	return ""
}

type sessionRoutes struct {
	flask *session.Flask
	mount string
}

// load returns the Flask session of r. An expired session is an empty
// one, as in Flask; a tampered or foreign cookie is an error.
func (h *sessionRoutes) load(r *http.Request) (session.Session, error) {
	s, err := h.flask.Load(r)
	if errors.Is(err, session.ErrExpired) {
		return session.Session{}, nil
	}
	return s, err
}

// cart answers the session's cart: {"cart": {"<id>": quantity},
// "count": total quantity, "user": name or null}.
func (h *sessionRoutes) cart(w http.ResponseWriter, r *http.Request) {
	s, err := h.load(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	var v struct {
		Cart map[string]int `json:"cart"`
		User *string        `json:"user"`
	}
	if err := s.Unmarshal(&v); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if v.Cart == nil {
		v.Cart = map[string]int{}
	}
	count := 0
	for _, n := range v.Cart {
		count += n
	}
	writeJSON(w, http.StatusOK, map[string]any{"cart": v.Cart, "count": count, "user": v.User})
}

// checkPassword is the demo's user database.
func checkPassword(user, password string) bool {
	var want string
	switch user {
	case "alice":
		want = "wonderland"
	case "bob":
		want = "builder"
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
}

func (h *sessionRoutes) loginForm(w http.ResponseWriter, r *http.Request) {
	h.renderLogin(w, http.StatusOK, "")
}

func (h *sessionRoutes) renderLogin(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Served-By", "go")
	w.WriteHeader(status)
	loginPage.Execute(w, map[string]string{"Mount": h.mount, "Error": msg})
}

// login checks the form's user and password and puts the user in Flask's
// session, keeping the rest of it (the cart), then redirects to the Flask
// account page.
func (h *sessionRoutes) login(w http.ResponseWriter, r *http.Request) {
	user, password := r.PostFormValue("username"), r.PostFormValue("password")
	if !checkPassword(user, password) {
		h.renderLogin(w, http.StatusUnauthorized, "Unknown user or wrong password.")
		return
	}
	s, err := h.load(r)
	if err != nil {
		s = session.Session{} // a bad cookie is replaced, as Flask does
	}
	s["user"] = user
	if err := h.flask.Save(w, s); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, h.mount+"/account", http.StatusSeeOther)
}

func (h *sessionRoutes) logout(w http.ResponseWriter, r *http.Request) {
	s, err := h.load(r)
	if err != nil {
		s = session.Session{}
	}
	delete(s, "user")
	if err := h.flask.Save(w, s); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, h.mount+"/account", http.StatusSeeOther)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Log in · graft Flask example</title>
<h1>Log in</h1>
<p>This form is Go; the session it starts is Flask's.</p>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Mount}}/login">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button>Log in</button>
</form>
<p>Demo users: alice / wonderland, bob / builder. <a href="{{.Mount}}/">Back to the shop</a>.</p>
`))
