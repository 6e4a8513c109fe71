package opstest

import (
	"io"
	"os"
	"testing"
)

// Stdout runs fn with os.Stdout going to a pipe and returns what fn
// printed: for flags such as -routes that print and exit. fn's error
// fails the test. Not for parallel tests.
func Stdout(t testing.TB, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	ferr := fn()
	os.Stdout = old
	w.Close()
	s := <-out
	r.Close()
	if ferr != nil {
		t.Fatalf("%v\noutput:\n%s", ferr, s)
	}
	return s
}
