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
