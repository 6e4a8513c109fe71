package main

import "net/http"

// djangoHeaders wraps the handler of a Go route that replaces a Django
// view so that its answers carry the headers the project's middlewares add
// to every Django answer (settings.py's defaults): X-Frame-Options DENY
// (XFrameOptionsMiddleware, X_FRAME_OPTIONS), X-Content-Type-Options
// nosniff and Referrer-Policy same-origin (SecurityMiddleware,
// SECURE_CONTENT_TYPE_NOSNIFF and SECURE_REFERRER_POLICY). Without them a
// Go page may be framed by another site (clickjacking; the feedback form)
// and the shadow comparison, which compares these headers, counts every Go
// answer as a mismatch.
//
// It wraps the handler. A middleware of the route (r.With(...)) would do
// too, as it runs only when Go serves the route (the shadow run
// included); a Use middleware would not: it also runs for Django's
// answers, which would carry the headers twice.
func djangoHeaders(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next(w, r)
	}
}
