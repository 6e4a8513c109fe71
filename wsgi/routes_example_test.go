package wsgi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"

	"github.com/graft-dev/graft/wsgi"
)

func examplePython() string {
	if p := os.Getenv("GRAFT_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3" // Debian's interpreter, with python3-flask
}

func ExampleContainer_AppRoutes() {
	c, err := wsgi.New(wsgi.Config{
		App: "rmflask:proxied", // testdata/rmflask: a Flask app behind ProxyFix
		Dir: "testdata", Python: examplePython(), Workers: 1,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	m, err := c.AppRoutes(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Framework, m.Apps[0].Wrappers)
	for _, r := range m.Routes[2:5] {
		fmt.Printf("%s %v -> %s\n", r.Rule, r.Methods, r.Pattern)
	}
	// Output:
	// flask [werkzeug.middleware.proxy_fix.ProxyFix]
	// /items/<int:item_id> [GET HEAD OPTIONS] -> /items/{item_id:[0-9]+}
	// /items/<int:item_id> [DELETE OPTIONS PUT] -> /items/{item_id:[0-9]+}
	// /users/<name>/ [GET HEAD OPTIONS] -> /users/{name}/
}

func ExampleContainer_IdentityMiddleware() {
	c, err := wsgi.New(wsgi.Config{
		App: "rmflask:app", Dir: "testdata", Python: examplePython(), Workers: 1,
		Logger:       slog.New(slog.DiscardHandler),
		IdentityHook: "graft:flask", // the Flask session, read by Flask
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.Handle("GET /go/me", c.IdentityMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := wsgi.IdentityFrom(r.Context())
		if id == nil {
			fmt.Fprintln(w, "anonymous")
			return
		}
		fmt.Fprintln(w, "user", id.String("user_id"))
	})))
	mux.Handle("/", c) // Flask: /login sets the session
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var cookies []*http.Cookie // the session Flask sets at /login
	get := func() {
		req, _ := http.NewRequest("GET", srv.URL+"/go/me", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Print(string(b))
	}
	get()
	resp, err := http.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}, "id": {"42"}})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	cookies = resp.Cookies()
	get()
	// Output:
	// anonymous
	// user 42
}
