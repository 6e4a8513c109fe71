package session_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"

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

// A Go handler takes a form that Django's page posts, in a project with
// CSRF_USE_SESSIONS = True and the database session backend: the CSRF
// secret is in the session, which the handler looks up (here in a map
// standing for the django_session table) and passes to CheckSession.
func ExampleDjangoCSRF_CheckSession() {
	django := &session.Django{SecretKey: "the project's SECRET_KEY"}
	csrf := &session.DjangoCSRF{UseSessions: true} // CSRF_USE_SESSIONS = True

	// The session Django's login stored, and the token its page rendered.
	s := session.Session{"_auth_user_id": "42"}
	token, _, _ := csrf.SessionToken(s)
	data, _ := django.EncodeStored(s)
	rows := map[string]string{"k5m0bq8t1v2x3y4z5a6b7c8d9e0f1g2h": data} // session_key -> session_data

	handler := func(w http.ResponseWriter, r *http.Request) {
		var s session.Session // nil: no session, as for Django
		if c, err := r.Cookie("sessionid"); err == nil {
			if data, ok := rows[c.Value]; ok {
				s, err = django.DecodeStored(data)
				if errors.Is(err, session.ErrBadSignature) || errors.Is(err, session.ErrMalformed) {
					s = nil // Django reads corrupted session data as an empty session
				} else if err != nil {
					http.Error(w, "unreadable session", http.StatusInternalServerError)
					return
				}
			}
		}
		if err := csrf.CheckSession(r, s); errors.Is(err, session.ErrCSRF) {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		} else if err != nil {
			http.Error(w, "cannot check the CSRF token", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "saved", r.PostForm.Get("title"))
	}

	for _, tok := range []string{token, "forged"} {
		r := httptest.NewRequest("POST", "/notes/new/", strings.NewReader("title=hi&csrfmiddlewaretoken="+tok))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Cookie", "sessionid=k5m0bq8t1v2x3y4z5a6b7c8d9e0f1g2h")
		w := httptest.NewRecorder()
		handler(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// 200 saved hi
	// 403 session: CSRF check failed: CSRF token missing or incorrect.
}

// Pyramid's SignedCookieSessionFactory cookie: a Go handler reads the
// session, and writes it back keeping its creation time, as Pyramid
// reissues the cookie when a view reads the session.
func ExamplePyramid() {
	p := &session.Pyramid{SecretKey: "the factory's secret"} // SignedCookieSessionFactory(secret)
	v, _ := p.Encode(session.Session{"user": "amy"})
	s, _, created, err := p.DecodeTimes(v)
	fmt.Println(s["user"], err)
	v, _ = p.EncodeCreated(s, created) // accessed now: the session's timeout starts again
	s, _ = p.Decode(v)
	fmt.Println(s["user"])
	_, err = (&session.Pyramid{SecretKey: "another secret"}).Decode(v)
	fmt.Println(errors.Is(err, session.ErrBadSignature))
	// Output:
	// amy <nil>
	// amy
	// true
}
