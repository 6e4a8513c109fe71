package main

import (
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/heldclients"
	"github.com/graft-dev/graft/internal/pythontest"
)

// TestUlimitNoFile runs wsgiserve with `ulimit -n 64` and sends 150
// requests, each on a connection of its own that the client keeps open
// afterwards, as browsers keep theirs: every client is answered, the
// workers are recycled (-max-requests 20: during the flood, or, when a
// replacement could not start for want of descriptors, once the start,
// tried again with backoff, succeeds), and the log says what happened. Before, the server answered the first 48 or so, whose
// idle keep-alive connections then held every descriptor: the others
// waited in the backlog until those timed out (-keep-alive, 2 minutes by
// default; an hour here), while "too many open files; retrying in 1s"
// filled the log and the workers idled. gunicorn 20.1 answers all 150
// with the same limit (sync workers close every connection).
func TestUlimitNoFile(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	td, err := filepath.Abs("../../wsgi/testdata")
	if err != nil {
		t.Fatal(err)
	}
	// sh sets the limit and becomes wsgiserve: the test signals it.
	cmd := exec.Command("sh", "-c", `ulimit -n 64 && exec "$0" "$@"`, bin,
		"-bind", "127.0.0.1:0", "-python", pythontest.Python(t), "opsapp:app", "-chdir", td,
		"-workers", "2", "-max-requests", "20", "-keep-alive", "1h", "-access-log=false")
	s := startCmd(t, cmd, false)
	addr := strings.TrimPrefix(s.url, "http://")

	const clients = 150
	errs := heldclients.Run(clients, func() (net.Conn, error) {
		return net.DialTimeout("tcp", addr, 2*time.Minute)
	})
	for i, err := range errs {
		if i < 5 {
			t.Error(err)
		}
	}
	n := len(errs)
	if n > 0 {
		t.Fatalf("%d of %d clients got no answer", n, clients)
	}
	// Still serving, with fresh connections.
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	if _, err := answer(client, s.url+"/"); err != nil {
		t.Fatalf("after the flood: %v", err)
	}
	// The log is read as it comes: wait for the lines.
	for _, want := range []string{"wsgi: out of file descriptors: closed the idle keep-alive connections", "too many open files"} {
		opstest.WaitFor(t, "a log line with "+want, func() bool { return strings.Contains(s.stderr.String(), want) })
	}
	// A replacement that could not start while the flood held every
	// descriptor ("could not start a replacement to recycle a worker") is
	// tried again on its own, with backoff: no request is needed for a
	// worker to be recycled (until 2026-12-03 only a request handed to its
	// worker 5 s after the failure retried it).
	opstest.WaitFor(t, "a log line with wsgi: recycling worker", func() bool {
		return strings.Contains(s.stderr.String(), "wsgi: recycling worker")
	})
	if strings.Contains(s.stderr.String(), "http: Accept error") {
		t.Error("net/http logged its accept errors: the listener should retry them itself, one line a second")
	}
}
