package main

import (
	"net/http"
	"time"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
)

// apiReleased is when the notes API's current version was released, as
// the Django view notes.views.api_meta has it.
var apiReleased = time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)

// meta is the JSON of GET api/meta/.
type meta struct {
	API       string    `json:"api"`
	Version   string    `json:"version"`
	Released  time.Time `json:"released"`
	TitleMax  int       `json:"title_max"`
	RequestID string    `json:"request_id"`
}

// migratingRoutes registers, in the API area, the Go routes that are
// still being migrated: they are deployed dark, and stages.json puts them
// in the shadow stage (Django answers, Go's answer is compared) until the
// migration console shows that they answer as Django does. newHandler
// registers them only with -stages: a route the stages file does not list
// is in stage go, so without the file Go would serve them.
//
// GET api/meta/ is a port of the Django view api_meta with the
// cross-language difference shadowing exists to catch: Django's JSON
// encoder writes datetimes to the millisecond ("2024-05-01T12:00:00.123Z")
// and Go's to the nanosecond ("2024-05-01T12:00:00.123456Z"). The
// migration console shows the mismatch at /released.
//
// stages.json also tells both routes to ignore Set-Cookie: Django's
// RemoteUserMiddleware logs the token's user in on every request, which
// sets session and CSRF cookies that API clients never use and Go does
// not send. The comparison found that difference first. And Vary: the
// same login touches the session, so Django adds "Vary: Cookie" (compared
// since 2026-12-02); Go's answers depend on the Authorization header,
// whose answers no shared cache keeps (RFC 9111 section 3.5), not on a
// cookie.
func migratingRoutes(api *router.Router) {
	api.Get("/meta/", djangoHeaders(func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusOK, meta{
			API: "notes", Version: "1.2", Released: apiReleased, TitleMax: 200,
			RequestID: middleware.RequestIDFromContext(req.Context()),
		})
	})).Name("api_meta")
}
