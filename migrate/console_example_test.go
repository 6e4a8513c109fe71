package migrate_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
)

// The console plugs into the admin handler, which the application serves
// on its own listener behind its own authentication.
func ExampleMigrator_Console() {
	r := router.New()
	r.Get("/api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id": %q}`, router.Param(r, "id"))
	})
	r.Fallback(http.NotFoundHandler()) // the Python app, in a real server
	m, err := migrate.New(r, migrate.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		panic(err)
	}
	admin := m.Handler(migrate.AdminOptions{
		Console: m.Console(migrate.ConsoleOptions{}),
		Hosts:   []string{"admin.internal"}, // besides IP addresses and localhost
	})

	srv := httptest.NewServer(admin) // http.ListenAndServe("127.0.0.1:9091", auth(admin))
	defer srv.Close()
	for _, host := range []string{"", "admin.internal", "rebind.attacker.example"} {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		if host != "" {
			req.Host = host // as a browser sends it for http://NAME:PORT/
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		res.Body.Close()
		fmt.Println(res.StatusCode, strings.Split(res.Header.Get("Content-Type"), ";")[0])
	}
	// Output:
	// 200 text/html
	// 200 text/html
	// 421 text/plain
}
