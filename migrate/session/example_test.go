package session_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"

	"github.com/graft-dev/graft/migrate/session"
)

// A Go handler reads the cart that the Flask app keeps in its session,
// and another logs the user in with a session the Flask pages accept.
func ExampleFlask() {
	flask := &session.Flask{SecretKey: "the app's SECRET_KEY"} // from the environment, in real code

	cart := func(w http.ResponseWriter, r *http.Request) {
		s, err := flask.Load(r) // an empty session with no cookie
		if err != nil {
			http.Error(w, "bad session", http.StatusBadRequest)
			return
		}
		var v struct {
			Cart map[string]int `json:"cart"`
		}
		if err := s.Unmarshal(&v); err != nil {
			http.Error(w, "bad cart", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(v.Cart)
	}
	login := func(w http.ResponseWriter, r *http.Request) {
		s, err := flask.Load(r)
		if err != nil {
			s = session.Session{}
		}
		s["user"] = "alice"
		if err := flask.Save(w, s); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}

	// Log in, then read the cart with the same cookie.
	rec := httptest.NewRecorder()
	login(rec, httptest.NewRequest("POST", "/login", nil))
	s, _ := flask.Decode(rec.Result().Cookies()[0].Value)
	fmt.Println(s["user"])

	req := httptest.NewRequest("GET", "/cart", nil)
	c, _ := flask.Cookie(session.Session{"cart": map[string]int{"1": 2}})
	req.AddCookie(c)
	rec = httptest.NewRecorder()
	cart(rec, req)
	fmt.Print(rec.Body.String())

	// A tampered cookie is rejected, never decoded.
	_, err := flask.Decode(c.Value + "x")
	fmt.Println(errors.Is(err, session.ErrBadSignature))
	// Output:
	// alice
	// {"1":2}
	// true
}

// A Go handler renders a form that posts to a Django view, with the CSRF
// token Django's CsrfViewMiddleware checks.
func ExampleDjangoCSRF() {
	var csrf session.DjangoCSRF // Django's defaults: the csrftoken cookie
	form := template.Must(template.New("").Parse(
		`<form method="post" action="/django/feedback/">` +
			`<input type="hidden" name="csrfmiddlewaretoken" value="{{.}}"><button>Send</button></form>`))
	handler := func(w http.ResponseWriter, r *http.Request) {
		token := csrf.Token(w, r) // sets the cookie if the request has none
		form.Execute(w, token)
	}

	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequest("GET", "/feedback", nil))
	fmt.Println(rec.Result().Cookies()[0].Name)
	// Output: csrftoken
}

// Django's signed-cookies session, and signed values in general.
func ExampleDjango() {
	d := &session.Django{SecretKey: "the project's SECRET_KEY", FallbackKeys: []string{"the previous key"}}
	v, _ := d.Encode(session.Session{"_auth_user_id": "42"})
	s, _ := d.Decode(v)
	fmt.Println(s["_auth_user_id"])

	signer := &session.DjangoSigner{SecretKey: "the project's SECRET_KEY", Salt: "invites"}
	signed, _ := signer.Dumps(map[string]any{"email": "bob@example.com"}, false)
	var invite struct{ Email string }
	err := signer.Loads(signed, 0, &invite)
	fmt.Println(invite.Email, err)
	// Output:
	// 42
	// bob@example.com <nil>
}
