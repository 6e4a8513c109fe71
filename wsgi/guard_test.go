package wsgi

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
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
	{name: "chunk size of 2^60", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n1000000000000000\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	// net/http refuses more than 16 digits, leading zeros included.
	{name: "chunk size of 17 digits", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n00000000000000003\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "chunk sizes with leading zeros", want: []int{200, 200}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n0000000000000003\r\nabc\r\n02;x=1\r\nde\r\n0000000000000000\r\n\r\n" +
		"GET /last HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n",
		env: map[string]string{"body_sha256": sha256hex("abcde")}},
	{name: "chunk extension with a control byte", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n3;x=\ra\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "last chunk ended by bare LF", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n0\n\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "trailer obs-fold", want: []int{400}, raw: "POST /a HTTP/1.1\r\n" + hostH +
		"Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n folded\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "valid request, then CL and TE", want: []int{200, 400}, raw: "GET /one HTTP/1.1\r\n" + hostH + "\r\n" +
		"POST /two HTTP/1.1\r\n" + hostH + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	// The app answers CONNECT 200 with a body: the connection stays
	// net/http's (nothing hijacked it), so it stays checked.
	{name: "CONNECT answered, then CL and TE", want: []int{200, 400}, raw: "CONNECT example.com:443 HTTP/1.1\r\n" +
		"Host: example.com:443\r\n\r\nPOST /echo HTTP/1.1\r\n" + hostH + "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "request-like bodies stay bodies", want: []int{200, 200, 200}, raw: "POST /cl HTTP/1.1\r\n" + hostH +
		"Content-Length: 35\r\n\r\n" + hiddenReq +
		"POST /chunked HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n" +
		"23\r\n" + hiddenReq + "\r\n0\r\nX-T: 1\r\n\r\n" +
		"GET /last HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n"},
}

// targetCases: request-target forms and Host validation.
var targetCases = []guardCase{
	// A malformed %-escape in the path: net/http would refuse it too, with
	// no log line; the guard's 400 is counted and logged by Serve.
	{name: "malformed escape in the path", want: []int{400}, raw: "GET /a%zzb HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "truncated escape in the path", want: []int{400}, raw: "GET /a%2 HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "malformed escape in an absolute-form path", want: []int{400}, raw: "GET http://example.com/%g0 HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "escape malformed only in the query", want: []int{200}, raw: "GET /t?q=%zz%2 HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n",
		env: map[string]string{"PATH_INFO": "/t", "QUERY_STRING": "q=%zz%2"}},
	{name: "well-formed escapes", want: []int{200}, raw: "GET /%41%2f%2F%c3%A9 HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n",
		env: map[string]string{"REQUEST_URI": "/%41%2f%2F%c3%A9"}},
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
	{name: "CONNECT with origin-form", want: []int{400}, raw: "CONNECT /echo HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "CONNECT with absolute-form", want: []int{400}, raw: "CONNECT http://example.com:443/ HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "CONNECT with a fragment", want: []int{400}, raw: "CONNECT example.com:443#f HTTP/1.1\r\n" + hostH + "\r\n"},
	{name: "authority-form GET", want: []int{400}, raw: "GET example.com:443 HTTP/1.1\r\n" + hostH + "\r\n"},
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

// TestGuardLimits checks the request-line, field-count, field-size and
// head-size limits, with the defaults and with small ones.
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
	// fill is field lines of at most fieldLen bytes, n bytes in all with
	// their CRLFs (n > 0 and not too small for one field line).
	fill := func(n, fieldLen int) string {
		k := (n + fieldLen + 1) / (fieldLen + 2) // lines needed
		s := ""
		for i := 0; i < k; i++ {
			size := n / (k - i) // bytes of this line, CRLF included
			s += field(size - 2)
			n -= size
		}
		return s
	}
	head := func(n, fieldLen int) string { // a whole head of n bytes
		start := "GET / HTTP/1.1\r\n" + hostH
		return start + fill(n-len(start)-len(end), fieldLen) + end
	}
	trailer := func(n, fieldLen int) string { // a chunked body with a trailer section of n bytes
		return "POST /t HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n" + end +
			"3\r\nabc\r\n0\r\n" + fill(n-2, fieldLen) + "\r\n"
	}
	for _, l := range []struct {
		name                         string
		lim                          RequestLimits
		line, fields, fieldLen, head int
	}{
		{"defaults", RequestLimits{}, 4094, 100, 8190, 64 << 10},
		{"small", RequestLimits{Line: 64, Fields: 5, FieldSize: 40, Head: 150}, 64, 5, 40, 150},
	} {
		t.Run(l.name, func(t *testing.T) {
			e := startBoundary(t, true, l.lim)
			cases := []guardCase{
				{name: "line at the limit", want: []int{200}, raw: line(l.line) + hostH + end},
				{name: "line over the limit", want: []int{414}, raw: line(l.line+1) + hostH + end},
				{name: "endless line", want: []int{414}, raw: "GET /" + strings.Repeat("a", 64<<10)},
				{name: "fields at the limit", want: []int{200}, raw: "GET / HTTP/1.1\r\n" + fields(l.fields-1) + end},
				{name: "fields over the limit", want: []int{431}, raw: "GET / HTTP/1.1\r\n" + fields(l.fields+1) + "\r\n"},
				{name: "field at the limit", want: []int{200}, raw: "GET / HTTP/1.1\r\n" + hostH + field(l.fieldLen) + end},
				{name: "field over the limit", want: []int{431}, raw: "GET / HTTP/1.1\r\n" + hostH + field(l.fieldLen+1) + "\r\n"},
				{name: "endless field", want: []int{431}, raw: "GET / HTTP/1.1\r\n" + hostH + "X: " + strings.Repeat("v", 64<<10)},
				{name: "head at the limit", want: []int{200}, raw: head(l.head, l.fieldLen)},
				{name: "head over the limit", want: []int{431}, raw: head(l.head+1, l.fieldLen)},
				{name: "endless head", want: []int{431}, raw: "GET / HTTP/1.1\r\n" + hostH + fill(l.head, l.fieldLen)},
			}
			if l.head < 4000 {
				// net/http refuses a trailer section larger than its 4 KiB
				// read buffer itself.
				cases = append(cases,
					guardCase{name: "trailer at the limit", want: []int{200}, raw: trailer(l.head, l.fieldLen)},
					guardCase{name: "trailer over the limit", want: []int{400}, raw: trailer(l.head+1, l.fieldLen)})
			}
			runGuardCases(t, e, cases)
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

// TestGuardUpgrade checks that a connection the handler hijacks and
// switches to another protocol (101) is passed through unchecked
// afterwards, and that an Upgrade header the handler ignores switches
// nothing.
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
	srv.Config.ConnState = GuardConnState(nil)
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
// ReadFrom, whole, after an Upgrade request too (the guard watches no
// response bytes: only a hijack switches it off).
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
		{"upgrade asked", "Connection: Upgrade\r\nUpgrade: echo\r\n", true},
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

// smuggleAfter is a CL+TE request hiding GET /smuggled, sent right after a
// request whose answer might have switched the guard off.
const smuggleAfter = "POST /echo HTTP/1.1\r\n" + hostH + "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n" +
	"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + hostH + "\r\n"

// startGuardedGo serves h on a Guard listener, or a GuardTLS one (HTTP/1.1)
// when useTLS, with GuardConnState installed when hook. It returns a
// function that opens a raw connection to it.
func startGuardedGo(t *testing.T, h http.Handler, useTLS, hook bool) func() net.Conn {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if hook {
		srv.Config.ConnState = GuardConnState(nil)
	}
	var clientCfg *tls.Config
	if useTLS {
		// Borrow httptest's certificate and a client config trusting it.
		ts := httptest.NewUnstartedServer(nil)
		ts.StartTLS()
		srvCfg := ts.TLS.Clone()
		srvCfg.NextProtos = []string{"http/1.1"}
		clientCfg = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		clientCfg.NextProtos = []string{"http/1.1"}
		ts.Close()
		srv.Listener = GuardTLS(srv.Listener, srvCfg, RequestLimits{})
	} else {
		srv.Listener = Guard(srv.Listener, RequestLimits{})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return func() net.Conn {
		var conn net.Conn
		var err error
		if useTLS {
			conn, err = tls.Dial("tcp", srv.Listener.Addr().String(), clientCfg)
		} else {
			conn, err = net.Dial("tcp", srv.Listener.Addr().String())
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
}

// TestGuardSwitchWithoutHijack checks that a 2xx answer to CONNECT or a
// 101 that the handler writes without hijacking the connection leaves it
// checked: net/http goes on reading requests from it, so a smuggling shape
// after it is refused and the request it hides is never served.
func TestGuardSwitchWithoutHijack(t *testing.T) {
	cases := []struct {
		name  string
		first string
		h     http.HandlerFunc
		want  []int
	}{
		{"CONNECT answered 200 with a body", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>not a tunnel</html>")) }, []int{200, 400}},
		{"CONNECT answered 204", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, []int{204, 400}},
		{"101 by WriteHeader", "GET /ws HTTP/1.1\r\n" + hostH + "Connection: Upgrade\r\nUpgrade: echo\r\n\r\n",
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "Upgrade")
				w.Header().Set("Upgrade", "echo")
				w.WriteHeader(http.StatusSwitchingProtocols)
			}, []int{101, 400}},
	}
	for _, tc := range cases {
		for _, useTLS := range []bool{false, true} {
			for _, slow := range []bool{false, true} {
				name := tc.name
				if useTLS {
					name += "/TLS"
				}
				if slow {
					name += "/bytewise"
				}
				t.Run(name, func(t *testing.T) {
					seen := &seenLog{}
					dial := startGuardedGo(t, seen.wrap(tc.h), useTLS, true)
					res := exchangeOn(t, dial(), tc.first+smuggleAfter, slow)
					if !equalInts(res.status, tc.want) || !res.closed {
						t.Errorf("statuses %v closed %v, want %v closed; bodies %q", res.status, res.closed, tc.want, res.body)
					}
					for _, r := range seen.all() {
						if strings.Contains(r, "smuggled") {
							t.Errorf("hidden request served: %q", r)
						}
					}
				})
			}
		}
	}
}

// TestGuardHijackTunnel checks CONNECT and Upgrade tunnels a Go handler
// hijacks: with GuardConnState installed the tunnel's bytes pass through
// unchecked, those the client sent before the answer included (held, not
// refused, while the handler ran), and nothing is added at the close;
// without it the guard keeps checking and refuses them.
func TestGuardHijackTunnel(t *testing.T) {
	// Not a request: a bare LF, a NUL, then what would be a smuggling
	// shape if it were read as HTTP.
	tunnel := "\x00\x01\r\nnot HTTP\n\x7f" + smuggleAfter
	const connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
	const upgrade = "GET /ws HTTP/1.1\r\n" + hostH + "Connection: Upgrade\r\nUpgrade: echo\r\n\r\n"
	cases := []struct {
		name  string
		first string // sent, then (unless early) the answer read before tunnel
		early bool   // tunnel sent with first and just after, before the answer
		hook  bool   // GuardConnState installed
		want  string // what follows the 200 or 101 answer, to the close
	}{
		{"CONNECT", connect, false, true, tunnel},
		{"CONNECT, early bytes", connect, true, true, tunnel},
		{"Upgrade", upgrade, false, true, tunnel},
		{"Upgrade, early bytes", upgrade, true, true, tunnel},
		{"CONNECT without the hook", connect, false, false, "HTTP/1.1 400 Bad Request\r\n"},
	}
	handler := func(t *testing.T) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(100 * time.Millisecond) // early bytes reach net/http's background read
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			if r.Method == http.MethodConnect {
				brw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
			} else {
				brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			}
			brw.Flush()
			io.CopyN(conn, brw, int64(len(tunnel))) // echo, until EOF at most
		})
	}
	for _, tc := range cases {
		for _, useTLS := range []bool{false, true} {
			name := tc.name
			if useTLS {
				name += "/TLS"
			}
			t.Run(name, func(t *testing.T) {
				seen := &seenLog{}
				conn := startGuardedGo(t, seen.wrap(handler(t)), useTLS, tc.hook)()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(conn)
				if tc.early {
					// The bare LF in the first part would have the part
					// refused as a request head; the rest comes while the
					// handler runs.
					io.WriteString(conn, tc.first+tunnel[:13])
					time.Sleep(30 * time.Millisecond)
					io.WriteString(conn, tunnel[13:])
				} else {
					io.WriteString(conn, tc.first)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != 200 && resp.StatusCode != 101 {
					t.Fatalf("answer %v, %v", resp, err)
				}
				if !tc.early {
					io.WriteString(conn, tunnel)
				}
				got, err := io.ReadAll(br)
				if err != nil {
					t.Fatalf("after %d bytes: %v", len(got), err)
				}
				if tc.hook && string(got) != tc.want || !tc.hook && !strings.HasPrefix(string(got), tc.want) {
					t.Errorf("tunnel gave %q, want %q", got, tc.want)
				}
				if n := len(seen.all()); n != 1 {
					t.Errorf("%d requests served, want 1: %q", n, seen.all())
				}
			})
		}
	}
}

// chunkLineCases are chunk-size lines (CRLF included) and how the guard
// reads them: size, or ok false for a line it refuses.
var chunkLineCases = []struct {
	line string
	size int64
	ok   bool
}{
	{"3\r\n", 3, true},
	{"0\r\n", 0, true},
	{"aBc\r\n", 0xabc, true},
	{"0000000000000003\r\n", 3, true}, // 16 digits
	{"0000000000000000\r\n", 0, true},
	{"000000000000000a;x=1\r\n", 10, true},
	{"fffffffffffffff\r\n", 1<<60 - 1, true},
	{"0fffffffffffffff\r\n", 1<<60 - 1, true},
	{"3;ext=\"q v\"\r\n", 3, true},
	{"3;\tx\r\n", 3, true},
	{"3 \t\r\n", 3, true},
	{"1000000000000000\r\n", 0, false},  // 2^60
	{"ffffffffffffffff\r\n", 0, false},  // 2^64-1
	{"00000000000000003\r\n", 0, false}, // 17 digits: net/http refuses them
	{"10000000000000003\r\n", 0, false},
	{"3 ;x\r\n", 0, false}, // net/http parses "3 " as the size
	{"3 x\r\n", 0, false},
	{";x\r\n", 0, false},
	{"\r\n", 0, false},
	{"3\n", 0, false},
	{"3;x\x01\r\n", 0, false},
	{"3;x\x7f\r\n", 0, false},
	{"-3\r\n", 0, false},
	{"0x3\r\n", 0, false},
}

// TestGuardChunkLine checks the chunk-size parser: leading zeros are
// fine up to net/http's 16 digits, sizes of 2^60 and more are refused.
func TestGuardChunkLine(t *testing.T) {
	for _, tc := range chunkLineCases {
		t.Run(strconv.Quote(tc.line), func(t *testing.T) {
			size, ok := parseChunkLine([]byte(tc.line))
			if ok != tc.ok || ok && size != tc.size {
				t.Errorf("parseChunkLine = %d, %v; want %d, %v", size, ok, tc.size, tc.ok)
			}
		})
	}
}

// TestGuardHijackSendTimeoutOrder: a Go handler's tunnel passes through
// the guard whichever way SendTimeout and Guard are stacked. The docs put
// SendTimeout under the guard; put over it (the server accepting from
// SendTimeout's listener), GuardConnState did not find the guard's
// connection under SendTimeout's, so until 2026-12-02 the guard went on
// checking the tunnel and wrote a 400 into it.
func TestGuardHijackSendTimeoutOrder(t *testing.T) {
	const tunnel = "\x00\x01\r\nnot HTTP\n\x7f"
	for _, tc := range []struct {
		name string
		wrap func(net.Listener) net.Listener
	}{
		{"SendTimeout under Guard", func(ln net.Listener) net.Listener {
			return Guard(SendTimeout(ln, time.Minute, nil), RequestLimits{})
		}},
		{"SendTimeout over Guard", func(ln net.Listener) net.Listener {
			return SendTimeout(Guard(ln, RequestLimits{}), time.Minute, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
				brw.Flush()
				io.CopyN(conn, brw, int64(len(tunnel)))
			}))
			srv.Config.ConnState = GuardConnState(nil)
			srv.Listener = tc.wrap(srv.Listener)
			srv.Start()
			t.Cleanup(srv.Close)
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
				t.Fatalf("answer %v, %v", resp, err)
			}
			io.WriteString(conn, tunnel)
			got, err := io.ReadAll(br)
			if err != nil {
				t.Fatalf("after %d bytes: %v", len(got), err)
			}
			if string(got) != tunnel {
				t.Errorf("tunnel gave %q, want %q", got, tunnel)
			}
		})
	}
}
