package wsgi_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/router"
)

// TestAccessLogClientReset: a client resets its connection while the last
// bytes of a response (fewer than net/http's 4 KiB write buffer) are
// still in graft; the handler's writes of them succeed (they go to the
// buffer) and it returns. The access line must not read as a response
// sent whole: until 2026-12-02 it said 200 with every byte written and no
// error, as bytes == Content-Length made it "complete".
func TestAccessLogClientReset(t *testing.T) {
	var logs pythontest.Buffer
	const size, last = 256 << 10, 1000
	wrote := make(chan struct{})
	gone := make(chan bool, 1)
	addr := edgeServer(t, &logs, func(r *router.Router) {
		r.Get("/go/reset", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(make([]byte, size-last))
			http.NewResponseController(w).Flush()
			close(wrote)
			select { // net/http's read of the connection sees the reset
			case <-r.Context().Done():
				gone <- true
			case <-time.After(10 * time.Second):
				gone <- false
			}
			n, err := w.Write(make([]byte, last)) // into net/http's buffer
			if n != last || err != nil {
				t.Errorf("the last write: %d, %v; want it buffered", n, err)
			}
		})
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /go/reset HTTP/1.1\r\nHost: edge.test\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("X-Request-Id")
	<-wrote
	conn.(*net.TCPConn).SetLinger(0) // close with a RST, data unread
	conn.Close()
	if !<-gone {
		t.Fatal("the handler never saw the client go")
	}
	var line string
	for deadline := time.Now().Add(5 * time.Second); line == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for l := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(l, "request.id="+id) && strings.Contains(l, "http.route=") {
				line = l
			}
		}
	}
	if line == "" {
		t.Fatalf("no access line for %s:\n%s", id, logs.String())
	}
	if !strings.Contains(line, "ClientAborted") {
		t.Errorf("the access line reads as a response sent whole:\n%s", line)
	}
}
