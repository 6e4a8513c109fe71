package wsgi

import (
	"net/http"

	"github.com/graft-dev/graft/internal/errhead"
)

// errorPage answers r through the error handler. A HEAD gets the header
// fields the GET of the same URL gets from it, "Content-Length: 0" for a
// page that writes no body among them, which net/http gives GET only
// (see internal/errhead).
func (c *Container) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	errhead.Write(w, r, func(w http.ResponseWriter) { c.cfg.ErrorHandler(w, r, err) })
}
