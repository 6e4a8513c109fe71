package main

import (
	"html/template"
	"net/http"

	"github.com/graft-dev/graft/migrate/session"
	"github.com/graft-dev/graft/router"
)

// registerCSRF adds GET <mount>/feedback/ to s, the router of the site
// under mount: a form that Go renders and that posts to the Django view
// notes.views.feedback at the same URL, with the CSRF token that Django's
// CsrfViewMiddleware checks (package migrate/session makes it from the
// csrftoken cookie, Django's own or one Go sets; no secret key is
// involved). Only GET is Go's: the POST falls back to Django.
func registerCSRF(s *router.Router, mount string) {
	var csrf session.DjangoCSRF // the project's CSRF_COOKIE_* are Django's defaults
	s.Get("/feedback/", djangoHeaders(func(w http.ResponseWriter, r *http.Request) {
		token := csrf.Token(w, r) // before the header is written: it sets the cookie
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Served-By", "go")
		feedbackForm.Execute(w, map[string]string{
			"Action": mount + "/feedback/", "Field": session.DjangoCSRFField, "Token": token,
		})
	})).Name("feedback")
}

var feedbackForm = template.Must(template.New("feedback").Parse(`<!doctype html>
<title>Feedback · graft Django example</title>
<h1>Feedback</h1>
<p>This form is Go; Django receives it, CSRF check included.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="{{.Field}}" value="{{.Token}}">
<label>Message <textarea name="message" required></textarea></label>
<button>Send</button>
</form>
`))
