package wsgi

import (
	"bytes"
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
	return counterValue(t, g, "graft_http_refused_total", "status", status)
}

// counterValue returns the counter name{label=value} in g (0 when g has
// none).
func counterValue(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
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
		for range 3 {
			if resp, _ := rawHTTP(t, addr, smuggle); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("smuggling attempt: %s, want 400", resp.Status)
			}
		}
		if resp, _ := rawHTTP(t, addr, "GET /"+strings.Repeat("a", 5000)+" HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != http.StatusRequestURITooLong {
			t.Fatalf("long request line: %s, want 414", resp.Status)
		}
		waitFor(t, 5*time.Second, "3 refusals counted", func() bool { return refusedCount(t, reg, "400") == 3 })
		if got := refusedCount(t, reg, "414"); got != 1 {
			t.Errorf("graft_http_refused_total{status=\"414\"} = %v, want 1", got)
		}
		// At INFO or DEBUG, as the rate limit decides (TestRefusalsRateLimit).
		line := regexp.MustCompile(`level=(INFO|DEBUG) msg="wsgi: request refused at the HTTP boundary" http.response.status_code=400 client.ip=127.0.0.1 error="both Content-Length and Transfer-Encoding"`)
		waitFor(t, 5*time.Second, "3 lines", func() bool { return len(line.FindAllString(logs.String(), -1)) == 3 })
		if !strings.Contains(logs.String(), "level=INFO msg=\"wsgi: request refused at the HTTP boundary\" http.response.status_code=400") {
			t.Errorf("the first refusal is not logged at INFO:\n%s", logs)
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

// TestRefusalsRateLimit checks the refusal line's rate limit with a clock
// of its own: one INFO line a second at most, the others at DEBUG, the
// next INFO line counting them in graft.suppressed.
func TestRefusalsRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	r := newRefusals(reg, slogNew(&logs))
	peer := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5000}
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at   time.Duration
		want string // the line's level and, after a pause, its count of those left out
	}{
		{0, "level=INFO"},
		{100 * time.Millisecond, "level=DEBUG"},
		{900 * time.Millisecond, "level=DEBUG"},
		{rateLogEvery, "level=INFO graft.suppressed=2"},
		{rateLogEvery + time.Millisecond, "level=DEBUG"},
		{3 * rateLogEvery, "level=INFO graft.suppressed=1"},
		{5 * rateLogEvery, "level=INFO"},
	} {
		logs.Reset()
		r.reportAt(t0.Add(step.at), http.StatusBadRequest, "bad", peer)
		got := logs.String()
		level, suppressed, _ := strings.Cut(step.want, " ")
		if !strings.Contains(got, level+` msg="wsgi: request refused at the HTTP boundary" http.response.status_code=400 client.ip=192.0.2.7 error=bad`) ||
			strings.Contains(got, "graft.suppressed") != (suppressed != "") || !strings.Contains(got, suppressed) {
			t.Errorf("refusal at +%v: logged %q, want %s", step.at, got, step.want)
		}
	}
	if got := refusedCount(t, reg, "400"); got != 7 {
		t.Errorf("graft_http_refused_total{status=\"400\"} = %v, want 7: every refusal is counted", got)
	}
}
