package router

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
)

// Param returns the URL parameter key of the route that serves r,
// percent-decoded exactly once, so that it is the value given to
// [Router.URL]: "/files/1%20%2B%201" and "/files/1%20+%201" both give
// "1 + 1" for "/files/{name}" ("+" is not a space in a path).
//
// chi's [chi.URLParam] returns the still-encoded value when the Router
// routed on the escaped path (one whose escaped slash, "%2F", a Go route
// takes) and the decoded one otherwise; Param hides that difference. A value that is not
// valid percent-encoding is returned as is.
func Param(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v // chi routed on the decoded path
	}
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}
