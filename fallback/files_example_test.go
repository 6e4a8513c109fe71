package fallback_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing/fstest"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
)

// The app's static files come from Go; everything else goes to the app.
func ExampleStatic() {
	files := fstest.MapFS{ // an embed.FS or fallback.NewStaticDir in real code
		"css/site.0123456789ab.css": {Data: []byte("body{}")},
	}
	static := fallback.NewStatic(files)
	static.Prefix = "/static/"

	r := router.New()
	r.Handle("/static/*", static)
	r.Fallback(&fallback.Handler{App: http.NotFoundHandler()}) // the WSGI container

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/static/css/site.0123456789ab.css", nil))
	fmt.Println(w.Code, w.Header().Get("Cache-Control"))
	// Output: 200 public, max-age=31536000, immutable
}

// Protected downloads: the app answers "X-Sendfile: /srv/files/..." and Go
// sends the file.
func ExampleSendfile() {
	var container http.Handler = http.NotFoundHandler() // the WSGI container
	r := router.New()
	r.Fallback(&fallback.Handler{App: container, Sendfile: &fallback.Sendfile{
		Roots:     []string{"/srv/files"},
		Locations: map[string]string{"/protected/": "/srv/files"},
	}})
	_ = http.ListenAndServe // http.ListenAndServe(":8000", r)
}
