package wsgi_test

import (
	"context"
	"embed"
	"io/fs"
	"log"
	"net/http"

	"github.com/graft-dev/graft/wsgi"
)

var pyapp embed.FS // in real code: //go:embed all:pyapp

// The binary carries the app: the workers import it from a private
// read-only copy of the embedded tree, removed by Shutdown.
func ExampleConfig_appFS() {
	tree, err := fs.Sub(pyapp, "pyapp")
	if err != nil {
		log.Fatal(err)
	}
	app, err := wsgi.New(wsgi.Config{App: "mysite.wsgi:application", AppFS: tree, Python: "/usr/bin/python3"})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Shutdown(context.Background())
	log.Println("app copied to", app.AppDir())
	log.Fatal(http.ListenAndServe(":8000", app))
}
