package wsgi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// seenLog records every request net/http hands to the handler, to prove
// that a hidden (smuggled) request is never served, by Go or by the app.
type seenLog struct {
	mu   sync.Mutex
	reqs []string // "METHOD RequestURI"
	urls []string // r.URL.Path + "?" + r.URL.RawQuery, as Go routes see it
}

func (s *seenLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+r.RequestURI)
		s.urls = append(s.urls, r.URL.Path+"?"+r.URL.RawQuery)
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (s *seenLog) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

func (s *seenLog) lastURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.urls) == 0 {
		return ""
	}
	return s.urls[len(s.urls)-1]
}

// boundaryEnv is testdata/boundaryapp.py served through a container, on a
// loopback server that is guarded (Guard) or not.
type boundaryEnv struct {
	addr string
	seen *seenLog
	logs *pythontest.Buffer
}

func startBoundary(t testing.TB, guard bool, lim RequestLimits) *boundaryEnv {
	t.Helper()
	c, logs := newContainer(t, Config{App: "boundaryapp:app"})
	seen := &seenLog{}
	srv := httptest.NewUnstartedServer(seen.wrap(c))
	if guard {
		srv.Listener = Guard(srv.Listener, lim)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return &boundaryEnv{addr: srv.Listener.Addr().String(), seen: seen, logs: logs}
}

// rawResult is what came back on a raw connection: the responses, in
// order, and whether the server closed the connection after them.
type rawResult struct {
	status []int
	header []http.Header
	body   []string
	closed bool
}

// rawExchange writes raw to a new connection to addr (byte by byte when
// slow) and reads responses until the server closes the connection or 10
// seconds pass (then closed is false).
func rawExchange(t testing.TB, addr, raw string, slow bool) rawResult {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return exchangeOn(t, conn, raw, slow)
}

func exchangeOn(t testing.TB, conn net.Conn, raw string, slow bool) rawResult {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		if !slow {
			io.WriteString(conn, raw)
			return
		}
		for i := 0; i < len(raw); i++ {
			if _, err := conn.Write([]byte{raw[i]}); err != nil {
				return
			}
		}
	}()
	var res rawResult
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			res.closed = !(errors.As(err, &ne) && ne.Timeout())
			if res.closed && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
				!strings.Contains(err.Error(), "connection reset") {
				t.Errorf("reading response: %v", err)
			}
			return res
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Errorf("reading response body: %v", err)
		}
		res.status = append(res.status, resp.StatusCode)
		res.header = append(res.header, resp.Header)
		res.body = append(res.body, string(b))
	}
}

const hostH = "Host: h\r\n"

// hiddenReq is a request hidden in a body; it must never be served.
const hiddenReq = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"

// guardCase is a raw request and what must come back.
type guardCase struct {
	name string
	raw  string
	want []int             // statuses, in order; the connection must then be closed
	env  map[string]string // environ keys in the first 200 answer
}

// smugglingCases: every one hides "GET /smuggled" somewhere a lenient or
// different parser could read as a request. It must never be served.
var smugglingCases = []guardCase{
	{name: "CL and TE", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE and CL", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE on HTTP/1.0", want: []int{400}, raw: "POST /a HTTP/1.0\r\nConnection: keep-alive\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n2b\r\nGET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\r\n0\r\n\r\n"},
	{name: "TE identity", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: identity\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE stacked gzip, chunked", want: []int{501}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE chunked twice in a list", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE in two fields", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE unknown coding", want: []int{501}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE obs-fold", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\nabcGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE name with space before colon", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "TE value with vertical tab", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "duplicate equal CL", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "differing CL", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Content-Length: 0\r\nContent-Length: 41\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "CL list", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Content-Length: 3, 3\r\n\r\nabcGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "CL with sign", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Content-Length: +3\r\n\r\nabcGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "CL hex", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Content-Length: 0x3\r\n\r\nabcGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "bare CR in a value", want: []int{400}, raw: "GET /a HTTP/1.1\r\n" + hostH +
		"X-A: a\rContent-Length: 32\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "bare CR ends the request line", want: []int{400}, raw: "GET /a HTTP/1.1\r" + hostH +
		"\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "bare LF line endings", want: []int{400}, raw: "GET /a HTTP/1.1\nHost: h\nContent-Length: 32\n\n" +
		"GET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "NUL in a value", want: []int{400}, raw: "GET /a HTTP/1.1\r\n" + hostH +
		"X-A: a\x00b\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "NUL in the target", want: []int{400}, raw: "GET /a\x00b HTTP/1.1\r\n" + hostH +
		"\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "control byte in a name", want: []int{400}, raw: "GET /a HTTP/1.1\r\n" + hostH +
		"X\x01A: 1\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "DEL in a value", want: []int{400}, raw: "GET /a HTTP/1.1\r\n" + hostH +
		"X-A: \x7f\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "chunk size not hex", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\nzz\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "chunk size line ended by bare LF", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "chunk data without CRLF", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "chunk size overflow", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "chunk extension with a control byte", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n3;x=\ra\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "last chunk ended by bare LF", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n0\n\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "trailer obs-fold", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n folded\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "valid request, then CL and TE", want: []int{200, 400}, raw: "GET /one HTTP/1.1\r\n" + hostH + "\r\n" +
		"POST /two HTTP/1.1\r\n" + hostH + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "request-like bodies stay bodies", want: []int{200, 200, 200}, raw: "POST /cl HTTP/1.1\r\n" + hostH +
		"Content-Length: 35\r\n\r\n" + hiddenReq +
		"POST /chunked HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n" +
		"23\r\n" + hiddenReq + "\r\n0\r\nX-T: 1\r\n\r\n" +
		"GET /last HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n"},
}

// targetCases: request-target forms and Host validation.
var targetCases = []guardCase{
	{name: "fragment after the query", want: []int{200}, raw: "GET /t?page=1#x HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n",
		env: map[string]string{"PATH_INFO": "/t", "QUERY_STRING": "page=1", "REQUEST_URI": "/t?page=1", "RAW_URI": "/t?page=1"}},
	{name: "fragment in the path", want: []int{200}, raw: "GET /a%20b#frag?x=1 HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n",
		env: map[string]string{"PATH_INFO": "/a b", "QUERY_STRING": "", "REQUEST_URI": "/a%20b"}},
	{name: "absolute-form", want: []int{200},
		raw: "GET http://example.com:81/abs?q=1#f HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
		env: map[string]string{"HTTP_HOST": "example.com:81", "SERVER_NAME": "example.com", "SERVER_PORT": "81",
			"PATH_INFO": "/abs", "QUERY_STRING": "q=1", "REQUEST_URI": "http://example.com:81/abs?q=1"}},
	{name: "absolute-form https without path", want: []int{200},
		raw: "GET HTTPS://Example.com?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
		env: map[string]string{"HTTP_HOST": "Example.com", "PATH_INFO": "/", "QUERY_STRING": "q=1"}},
	{name: "absolute-form ftp", want: []int{400}, raw: "GET ftp://example.com/x HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "absolute-form javascript", want: []int{400}, raw: "GET javascript://example.com/x HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "absolute-form bad escape in host", want: []int{400}, raw: "GET http://ex%zzample/ HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "absolute-form userinfo", want: []int{400}, raw: "GET http://user:pw@example.com/ HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "absolute-form empty host", want: []int{400}, raw: "GET http:///x HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "absolute-form bad port", want: []int{400}, raw: "GET http://h:123456/ HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "absolute-form unclosed IPv6", want: []int{400}, raw: "GET http://[::1/ HTTP/1.1\r\n" + hostH + "\r\n"},
	// net/http answers OPTIONS * itself (200, no body): see TestContainerAsteriskForm.
	{name: "asterisk-form OPTIONS", want: []int{200}, raw: "OPTIONS * HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n"},
	{name: "asterisk-form GET", want: []int{400}, raw: "GET * HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "authority-form CONNECT", want: []int{200},
		raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
		env: map[string]string{"REQUEST_METHOD": "CONNECT", "PATH_INFO": "", "QUERY_STRING": "",
			"REQUEST_URI": "example.com:443", "HTTP_HOST": "example.com:443", "SERVER_NAME": "example.com", "SERVER_PORT": "443"}},
	{name: "authority-form CONNECT without port", want: []int{400}, raw: "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{name: "Host with a slash", want: []int{400}, raw: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
	{name: "two Hosts", want: []int{400}, raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{name: "no Host on HTTP/1.1", want: []int{400}, raw: "GET / HTTP/1.1\r\n\r\n"},
	{name: "IPv6 Host", want: []int{200}, raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n",
		env: map[string]string{"HTTP_HOST": "[::1]:8080", "SERVER_NAME": "::1", "SERVER_PORT": "8080"}},
	{name: "HTTP/2.0 request line", want: []int{505}, raw: "GET / HTTP/2.0\r\n" + hostH + "\r\n"},
	{name: "malformed version", want: []int{400}, raw: "GET / HTTX/1.1\r\n" + hostH + "\r\n"},
	{name: "two spaces in the request line", want: []int{400}, raw: "GET  / HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "empty lines before the request", want: []int{200}, raw: "\r\n\r\nGET /lead HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n",
		env: map[string]string{"PATH_INFO": "/lead"}},
	{name: "HTTP/1.0 without Host", want: []int{200}, raw: "GET /old HTTP/1.0\r\n\r\n",
		env: map[string]string{"SERVER_PROTOCOL": "HTTP/1.0"}},
}

// runGuardCases checks each case against e, sent at once and byte by byte.
func runGuardCases(t *testing.T, e *boundaryEnv, cases []guardCase) {
	for _, tc := range cases {
		for _, slow := range []bool{false, true} {
			name := tc.name
			if slow {
				name += "/bytewise"
			}
			t.Run(name, func(t *testing.T) {
				res := rawExchange(t, e.addr, tc.raw, slow)
				if !equalInts(res.status, tc.want) {
					t.Errorf("statuses %v, want %v; bodies %q", res.status, tc.want, res.body)
				}
				if !res.closed {
					t.Errorf("connection left open after %v", res.status)
				}
				for _, r := range e.seen.all() {
					if strings.Contains(r, "smuggled") {
						t.Fatalf("hidden request served: %q (all: %q)", r, e.seen.all())
					}
				}
				if tc.env != nil && len(res.status) > 0 && res.status[0] == 200 {
					var env map[string]any
					decodeJSON(t, []byte(res.body[0]), &env)
					for k, v := range tc.env {
						if got, ok := env[k]; !ok || got != v {
							t.Errorf("%s = %v (present %v), want %q", k, got, ok, v)
						}
					}
				}
				for i, code := range res.status {
					if code >= 400 && !strings.Contains(res.body[i], http.StatusText(code)) {
						t.Errorf("answer %d has body %q", code, res.body[i])
					}
				}
			})
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGuardSmuggling sends each request-smuggling shape over a raw socket
// to a guarded server in front of a real Python app.
func TestGuardSmuggling(t *testing.T) {
	e := startBoundary(t, true, RequestLimits{})
	runGuardCases(t, e, smugglingCases)
	// The request-like bodies reached the app as bodies.
	res := rawExchange(t, e.addr, "POST /cl HTTP/1.1\r\n"+hostH+"Connection: close\r\nContent-Length: 35\r\n\r\n"+hiddenReq, false)
	var env map[string]any
	decodeJSON(t, []byte(res.body[0]), &env)
	if env["body_len"] != float64(len(hiddenReq)) || env["body_sha256"] != sha256hex(hiddenReq) {
		t.Errorf("body as the app read it: %v", env)
	}
}

// TestGuardTargets checks request-target forms, fragments and Host
// validation through the guard, and that Go routes see the same target.
func TestGuardTargets(t *testing.T) {
	e := startBoundary(t, true, RequestLimits{})
	runGuardCases(t, e, targetCases)
	rawExchange(t, e.addr, "GET /t?page=1#x HTTP/1.1\r\n"+hostH+"Connection: close\r\n\r\n", false)
	if got := e.seen.lastURL(); got != "/t?page=1" {
		t.Errorf("Go handler saw %q, want /t?page=1", got)
	}
}

// TestGuardLimits checks the request-line, field-count and field-size
// limits, with the defaults and with small ones.
func TestGuardLimits(t *testing.T) {
	line := func(n int) string { // a request line of n bytes
		return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1")) + " HTTP/1.1\r\n"
	}
	fields := func(n int) string { // n header fields, Host included
		s := hostH
		for i := 1; i < n; i++ {
			s += "X-F: 1\r\n"
		}
		return s
	}
	field := func(n int) string { // one field line of n bytes
		return "X-Big: " + strings.Repeat("v", n-len("X-Big: ")) + "\r\n"
	}
	end := "Connection: close\r\n\r\n"
	for _, l := range []struct {
		name                   string
		lim                    RequestLimits
		line, fields, fieldLen int
	}{
		{"defaults", RequestLimits{}, 4094, 100, 8190},
		{"small", RequestLimits{Line: 64, Fields: 5, FieldSize: 40}, 64, 5, 40},
	} {
		t.Run(l.name, func(t *testing.T) {
			e := startBoundary(t, true, l.lim)
			runGuardCases(t, e, []guardCase{
				{name: "line at the limit", want: []int{200}, raw: line(l.line) + hostH + end},
				{name: "line over the limit", want: []int{414}, raw: line(l.line+1) + hostH + end},
				{name: "endless line", want: []int{414}, raw: "GET /" + strings.Repeat("a", 64<<10)},
				{name: "fields at the limit", want: []int{200}, raw: "GET / HTTP/1.1\r\n" + fields(l.fields-1) + end},
				{name: "fields over the limit", want: []int{431}, raw: "GET / HTTP/1.1\r\n" + fields(l.fields+1) + "\r\n"},
				{name: "field at the limit", want: []int{200}, raw: "GET / HTTP/1.1\r\n" + hostH + field(l.fieldLen) + end},
				{name: "field over the limit", want: []int{431}, raw: "GET / HTTP/1.1\r\n" + hostH + field(l.fieldLen+1) + "\r\n"},
				{name: "endless field", want: []int{431}, raw: "GET / HTTP/1.1\r\n" + hostH + "X: " + strings.Repeat("v", 64<<10)},
			})
		})
	}
}

// TestGuardKeepAlive checks that a guarded connection serves requests one
// after another (bodies by length and chunked, a large body read straight
// through, 100-continue) without mixing them up.
func TestGuardKeepAlive(t *testing.T) {
	e := startBoundary(t, true, RequestLimits{})
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	for i, req := range []struct{ raw, body string }{
		{"POST /big HTTP/1.1\r\n" + hostH + "Content-Length: 1048576\r\n\r\n" + big, big},
		{"POST /ch HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n100000\r\n" + big + "\r\n3;ext=1\r\nabc\r\n0\r\n\r\n", big + "abc"},
		{"GET /g HTTP/1.1\r\n" + hostH + "\r\n", ""},
	} {
		if _, err := io.WriteString(conn, req.raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env map[string]any
		decodeJSON(t, b, &env)
		if resp.StatusCode != 200 || env["body_sha256"] != sha256hex(req.body) {
			t.Errorf("request %d: status %d, %v", i, resp.StatusCode, env)
		}
	}
	// Expect: 100-continue goes through the guard.
	io.WriteString(conn, "POST /c HTTP/1.1\r\n"+hostH+"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 100 {
		t.Fatalf("want 100 Continue, got %v %v", resp, err)
	}
	io.WriteString(conn, "xyz")
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after 100 Continue: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestGuardUpgrade checks that a connection the handler switches to
// another protocol (101) is passed through unchecked afterwards, and that
// an Upgrade header the handler ignores switches nothing.
func TestGuardUpgrade(t *testing.T) {
	seen := &seenLog{}
	srv := httptest.NewUnstartedServer(seen.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			w.Write([]byte("plain"))
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		buf := make([]byte, 64)
		n, _ := brw.Read(buf)
		conn.Write(buf[:n])
	})))
	srv.Listener = Guard(srv.Listener, RequestLimits{})
	srv.Start()
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	io.WriteString(conn, "GET /ws HTTP/1.1\r\n"+hostH+"Connection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("want 101, got %v %v", resp, err)
	}
	frame := "\x00\x01\r\nnot HTTP\n\x7f"
	io.WriteString(conn, frame)
	got := make([]byte, len(frame))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != frame {
		t.Fatalf("echo %q, %v; want %q", got, err, frame)
	}

	// Upgrade asked for but not granted: the next request is still checked.
	res := rawExchange(t, srv.Listener.Addr().String(), "GET /x HTTP/1.1\r\n"+hostH+"Connection: Upgrade\r\nUpgrade: echo\r\n\r\n"+
		"POST /y HTTP/1.1\r\n"+hostH+"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n"+hostH+"\r\n", false)
	if !equalInts(res.status, []int{200, 400}) || !res.closed {
		t.Errorf("statuses %v closed %v, want [200 400] closed", res.status, res.closed)
	}
	for _, r := range seen.all() {
		if strings.Contains(r, "smuggled") {
			t.Errorf("hidden request served: %q", r)
		}
	}
}

// TestGuardPipelinedRejectionWaits checks that a refused request
// pipelined behind a slow one neither cancels it nor overtakes its
// response.
func TestGuardPipelinedRejectionWaits(t *testing.T) {
	release := make(chan struct{})
	var cancelled bool
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
				mu.Lock()
				cancelled = true
				mu.Unlock()
			}
		}
		w.Write([]byte("ok " + r.URL.Path))
	}))
	srv.Listener = Guard(srv.Listener, RequestLimits{})
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /slow HTTP/1.1\r\n"+hostH+"\r\nGET /bad\x00 HTTP/1.1\r\n"+hostH+"\r\n")
	// The bad request has reached the guard once the server reads past
	// the first one; the slow handler must still be waiting, uncancelled.
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	res := exchangeOn(t, conn, "", false)
	mu.Lock()
	defer mu.Unlock()
	if cancelled {
		t.Error("the slow request was cancelled by the refused one")
	}
	if !equalInts(res.status, []int{200, 400}) || res.body[0] != "ok /slow" || !res.closed {
		t.Errorf("statuses %v bodies %q closed %v", res.status, res.body, res.closed)
	}
}

// TestGuardH2C checks that HTTP/2 with prior knowledge on a plain listener
// (when the server enables it) passes through the guard after its preface.
func TestGuardH2C(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Proto))
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Listener = Guard(srv.Listener, RequestLimits{})
	srv.Start()
	defer srv.Close()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	for i := 0; i < 2; i++ {
		resp, b, err := get(t, &http.Client{Transport: tr}, "GET", srv.URL+"/x", nil)
		if err != nil || resp.ProtoMajor != 2 || string(b) != "HTTP/2.0" {
			t.Fatalf("%v %v %q", resp.Proto, err, b)
		}
	}
}

// readFromConn counts the calls of its ReadFrom, which it passes on to the
// TCP connection's (sendfile, splice).
type readFromConn struct {
	*net.TCPConn
	calls *atomic.Int32
}

func (c readFromConn) ReadFrom(r io.Reader) (int64, error) {
	c.calls.Add(1)
	return c.TCPConn.ReadFrom(r)
}

type readFromListener struct {
	net.Listener
	calls *atomic.Int32
}

func (l readFromListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return readFromConn{c.(*net.TCPConn), l.calls}, nil
}

// TestGuardReadFrom checks that a guarded connection hands a response
// body sent with ReadFrom (a file: sendfile(2)) to the connection's own
// ReadFrom, and that while a protocol switch may come (an Upgrade
// request) the body goes through the guard's Write instead, whole either
// way.
func TestGuardReadFrom(t *testing.T) {
	body := make([]byte, 1<<20+123)
	for i := range body {
		body[i] = byte(i*7 + i>>9)
	}
	path := t.TempDir() + "/f.bin"
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "f.bin", time.Time{}, f)
	}))
	srv.Listener = Guard(readFromListener{srv.Listener, &calls}, RequestLimits{})
	srv.Start()
	defer srv.Close()

	for _, tc := range []struct {
		name      string
		header    string
		wantCalls bool
	}{
		{"plain", "", true},
		{"upgrade asked", "Connection: Upgrade\r\nUpgrade: echo\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "GET /f.bin HTTP/1.1\r\n"+hostH+tc.header+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Fatalf("status %d, %d bytes (want %d), err %v", resp.StatusCode, len(got), len(body), err)
			}
			if called := calls.Load() > before; called != tc.wantCalls {
				t.Errorf("connection's ReadFrom called: %v, want %v", called, tc.wantCalls)
			}
		})
	}
}
