package wsgi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/graft-dev/graft/wsgi"
)

func ExampleNew() {
	python := os.Getenv("GRAFT_PYTHON")
	if python == "" {
		python = "/usr/bin/python3" // Debian's interpreter
	}
	c, err := wsgi.New(wsgi.Config{
		App:     "apps:hello", // testdata/apps.py, function hello
		Dir:     "testdata",
		Python:  python,
		Workers: 1,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	srv := httptest.NewServer(c)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Print(string(body))
	// Output:
	// 200 OK
	// Hello, world!
}

// greeter is a Transport that answers every request itself, in Go: the
// smallest thing that can sit behind a Container. A real one would run
// Python somewhere (in process, on another host).
type greeter struct{}

func (greeter) Start(ctx context.Context, req *wsgi.Request) (wsgi.Exchange, error) {
	var path string
	for i := 0; i+1 < len(req.Env); i += 2 {
		if req.Env[i] == "PATH_INFO" {
			path = req.Env[i+1]
		}
	}
	return &greeting{body: "hello from " + path + "\n"}, nil
}

func (greeter) Shutdown(ctx context.Context) error { return nil }

// greeting is the response: one PartResponse.
type greeting struct {
	body string
	sent bool
}

func (g *greeting) Next(ctx context.Context) (wsgi.Part, error) {
	if g.sent {
		return wsgi.Part{Kind: wsgi.PartEnd}, nil
	}
	g.sent = true
	return wsgi.Part{Kind: wsgi.PartResponse, Status: "200 OK",
		Header: []string{"Content-Type", "text/plain"}, Data: []byte(g.body)}, nil
}

func (g *greeting) Cancel()     {}
func (g *greeting) Worker() int { return 0 }

func ExampleNewWithTransport() {
	c, err := wsgi.NewWithTransport(wsgi.Config{App: "greeter:app", Logger: slog.New(slog.DiscardHandler)}, greeter{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(context.Background())

	srv := httptest.NewServer(c)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/legacy/page")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Length"))
	fmt.Print(string(body))
	// Output:
	// 200 OK 24
	// hello from /legacy/page
}
