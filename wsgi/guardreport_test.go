package wsgi

import (
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
)

// refusedCount returns graft_http_refused_total{status} in g (0 when g
// has none).
func refusedCount(t *testing.T, g prometheus.Gatherer, status string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "graft_http_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == status {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// guardServe serves a 404 for every request on ln (a guarded listener)
// with GuardConnState installed, and returns ln's address.
func guardServe(t *testing.T, ln net.Listener) string {
	t.Helper()
	srv := &http.Server{Handler: http.NotFoundHandler()}
	srv.ConnState = GuardConnState(srv.ConnState)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func tcpListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

const smuggle = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"

// TestGuardAloneReports: Guard used alone, on a server of one's own,
// reports the requests it refuses as Serve does (no handler and no
// access line sees them): counted in graft_http_refused_total, in
// prometheus.DefaultRegisterer, and logged on slog.Default() with the
// same message and attribute keys.
func TestGuardAloneReports(t *testing.T) {
	logs := &pythontest.Buffer{}
	prev := slog.Default()
	slog.SetDefault(slogNew(logs))
	t.Cleanup(func() { slog.SetDefault(prev) })
	before := refusedCount(t, prometheus.DefaultGatherer, "400")

	addr := guardServe(t, Guard(tcpListen(t), RequestLimits{}))
	if resp, _ := rawHTTP(t, addr, smuggle); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("smuggling attempt: %s, want 400", resp.Status)
	}
	line := `level=INFO msg="wsgi: request refused at the HTTP boundary" http.response.status_code=400 client.ip=127.0.0.1 error="both Content-Length and Transfer-Encoding"`
	if missing, log := logWait(logs, 5*time.Second, line); missing != "" {
		t.Errorf("Guard's refusal not logged on slog.Default():\n%s", log)
	}
	if got := refusedCount(t, prometheus.DefaultGatherer, "400"); got != before+1 {
		t.Errorf("graft_http_refused_total{status=\"400\"} in the default registry: %v, want %v", got, before+1)
	}
	if resp, _ := rawHTTP(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a good request: %s, want the handler's 404", resp.Status)
	}
}

// TestGuardReport: GuardReport reports the guard's refusals on the logger
// and registry given, one INFO line a second at most (a client can send
// malformed requests by the thousand a second): the others of the second
// at DEBUG, counted all the same, and told by the next INFO line's
// graft.suppressed; with a nil logger and registry it serves as Guard.
func TestGuardReport(t *testing.T) {
	t.Run("logger and registry", func(t *testing.T) {
		logs := &pythontest.Buffer{}
		reg := prometheus.NewRegistry()
		addr := guardServe(t, GuardReport(tcpListen(t), RequestLimits{}, slogNew(logs), reg))
		start := time.Now()
		for range 3 {
			if resp, _ := rawHTTP(t, addr, smuggle); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("smuggling attempt: %s, want 400", resp.Status)
			}
		}
		waitFor(t, 5*time.Second, "3 refusals counted", func() bool { return refusedCount(t, reg, "400") == 3 })
		if time.Since(start) >= rateLogEvery {
			t.Skip("the machine took over a second for three requests: the rate limit cannot be checked")
		}
		msg := `msg="wsgi: request refused at the HTTP boundary" http.response.status_code=400 client.ip=127.0.0.1 error="both Content-Length and Transfer-Encoding"`
		waitFor(t, 5*time.Second, "3 lines", func() bool { return strings.Count(logs.String(), msg) == 3 })
		if n := strings.Count(logs.String(), "level=INFO "+msg); n != 1 {
			t.Errorf("%d INFO lines for 3 refusals within a second, want 1:\n%s", n, logs)
		}
		if n := strings.Count(logs.String(), "level=DEBUG "+msg); n != 2 {
			t.Errorf("%d DEBUG lines, want 2:\n%s", n, logs)
		}
		time.Sleep(rateLogEvery - time.Since(start) + 50*time.Millisecond)
		if resp, _ := rawHTTP(t, addr, "GET /"+strings.Repeat("a", 5000)+" HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != http.StatusRequestURITooLong {
			t.Fatalf("long request line: %s, want 414", resp.Status)
		}
		next := regexp.MustCompile(`level=INFO msg="wsgi: request refused at the HTTP boundary" http.response.status_code=414 client.ip=127.0.0.1 error=.* graft.suppressed=2\n`)
		waitFor(t, 5*time.Second, "the next INFO line with graft.suppressed=2", func() bool { return next.MatchString(logs.String()) })
		if got := refusedCount(t, reg, "414"); got != 1 {
			t.Errorf("graft_http_refused_total{status=\"414\"} = %v, want 1", got)
		}
	})

	t.Run("nil logger and registry", func(t *testing.T) {
		addr := guardServe(t, GuardReport(tcpListen(t), RequestLimits{}, nil, nil))
		if resp, _ := rawHTTP(t, addr, smuggle); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("smuggling attempt: %s, want 400", resp.Status)
		}
		if resp, _ := rawHTTP(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a good request: %s, want the handler's 404", resp.Status)
		}
	})
}
