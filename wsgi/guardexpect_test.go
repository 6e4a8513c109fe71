package wsgi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestGuardExpectationFailed: a request whose Expect field asks for
// anything but 100-continue is answered 417 and the connection closed,
// as net/http answers it, but by the guard, so that it is counted in
// graft_http_refused_total{status="417"} and logged like the other
// refusals: net/http answered it before any handler, and no access line
// or counter told of it. What follows on the connection is never served;
// the forms net/http takes as 100-continue (the token in a list, any
// case, an empty value, HTTP/1.0) are served as before.
func TestGuardExpectationFailed(t *testing.T) {
	logs := &pythontest.Buffer{}
	reg := prometheus.NewRegistry()
	ln := tcpListen(t)
	seen := make(chan string, 64) // the paths served, for the failure message
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen <- r.URL.Path
		io.WriteString(w, "ok\n")
	})}
	GuardServer(srv)
	go srv.Serve(GuardReport(ln, RequestLimits{}, slogNew(logs), reg))
	defer srv.Close()
	next := "GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, expect string
		want         int
	}{
		{"unknown", "Expect: foo\r\n", 417},
		{"unknown, HTTP/1.0", "Expect: 200-ok\r\n", 417},
		{"100-continue", "Expect: 100-continue\r\n", 200},
		{"100-continue in a list", "Expect: foo, 100-Continue\r\n", 200},
		{"empty", "Expect:\r\n", 200},
		{"first field counts", "Expect: 100-continue\r\nExpect: foo\r\n", 200},
		{"first field unknown", "Expect: foo\r\nExpect: 100-continue\r\n", 417},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proto := "HTTP/1.1"
			if strings.Contains(tc.name, "HTTP/1.0") {
				proto = "HTTP/1.0"
			}
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "POST /expect "+proto+"\r\nHost: x\r\n"+tc.expect+"Content-Length: 5\r\n\r\nhello"+next)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			for err == nil && resp.StatusCode == http.StatusContinue {
				resp, err = http.ReadResponse(br, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 417 {
				if !resp.Close {
					t.Errorf("417 without Connection: close")
				}
				if _, err := http.ReadResponse(br, nil); err == nil {
					t.Errorf("a response after the 417")
				}
			}
		})
	}
	var served []string
	for len(seen) > 0 {
		served = append(served, <-seen)
	}
	if got := refusedCount(t, reg, "417"); got != 3 {
		t.Errorf("graft_http_refused_total{status=\"417\"} = %v, want 3; served %q; log:\n%s", got, served, logs)
	}
	if !strings.Contains(logs.String(), `http.response.status_code=417 client.ip=127.0.0.1 error="unsupported expectation (Expect other than 100-continue)"`) {
		t.Errorf("no refusal line for the 417:\n%s", logs)
	}
}
