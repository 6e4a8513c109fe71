package wsgi

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// boundaryHTML is what boundaryapp.py's /nosniff sends without a
// Content-Type: net/http would sniff it as text/html.
const boundaryHTML = "<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"

// TestContainerTargets checks, without Guard (a user's own http.Server),
// that the container cuts fragments, keeps HTTP_HOST consistent with an
// absolute-form target, refuses bad absolute-form and asterisk-form
// targets, a CONNECT target that is not host:port, a method with a
// lower-case letter and two Content-Type fields, and gives CONNECT a
// documented environ.
func TestContainerTargets(t *testing.T) {
	e := startBoundary(t, false, RequestLimits{})
	cases := []struct {
		name string
		raw  string
		code int
		env  map[string]string
	}{
		{"fragment after the query", "GET /t?page=1#x HTTP/1.1\r\n" + hostH + "\r\n", 200,
			map[string]string{"PATH_INFO": "/t", "QUERY_STRING": "page=1", "REQUEST_URI": "/t?page=1", "RAW_URI": "/t?page=1"}},
		{"fragment in the path", "GET /p%2Fq#frag?x HTTP/1.1\r\n" + hostH + "\r\n", 200,
			map[string]string{"PATH_INFO": "/p/q", "QUERY_STRING": "", "REQUEST_URI": "/p%2Fq"}},
		{"absolute-form with fragment", "GET http://example.com/abs?q=1#f HTTP/1.1\r\nHost: other.example\r\n\r\n", 200,
			map[string]string{"HTTP_HOST": "example.com", "SERVER_NAME": "example.com", "PATH_INFO": "/abs",
				"QUERY_STRING": "q=1", "REQUEST_URI": "http://example.com/abs?q=1"}},
		{"absolute-form without path", "GET http://example.com:8080?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", 200,
			map[string]string{"HTTP_HOST": "example.com:8080", "SERVER_PORT": "8080", "PATH_INFO": "/", "QUERY_STRING": "q=1"}},
		{"absolute-form ftp scheme", "GET ftp://evil.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n", 400, nil},
		{"absolute-form junk scheme", "GET x-junk://evil.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n", 400, nil},
		{"absolute-form userinfo", "GET http://user@evil.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n", 400, nil},
		{"absolute-form invalid host", "GET http://evil{}.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n", 400, nil},
		{"asterisk-form on GET", "GET * HTTP/1.1\r\n" + hostH + "\r\n", 400, nil},
		{"authority-form CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 200,
			map[string]string{"REQUEST_METHOD": "CONNECT", "PATH_INFO": "", "QUERY_STRING": "", "REQUEST_URI": "example.com:443",
				"HTTP_HOST": "example.com:443", "SERVER_NAME": "example.com", "SERVER_PORT": "443"}},
		{"CONNECT with origin-form", "CONNECT /echo HTTP/1.1\r\n" + hostH + "\r\n", 400, nil},
		{"CONNECT with absolute-form", "CONNECT http://example.com:443/ HTTP/1.1\r\n" + hostH + "\r\n", 400, nil},
		// net/http takes an empty CONNECT target (as "http://"), with
		// RequestURI "": the app served it as "/" (FuzzRequestTarget).
		{"CONNECT with an empty target", "CONNECT  HTTP/1.1\r\n" + hostH + "\r\n", 400, nil},
		// Werkzeug and Django would serve these as GET (ErrBadMethod).
		{"lower-case method", "get /t HTTP/1.1\r\n" + hostH + "\r\n", 400, nil},
		{"mixed-case method", "Get /t HTTP/1.1\r\n" + hostH + "\r\n", 400, nil},
		{"extension method", "PROPFIND /t HTTP/1.1\r\n" + hostH + "\r\n", 200, map[string]string{"REQUEST_METHOD": "PROPFIND"}},
		// Joined, two Content-Type fields made one CONTENT_TYPE that
		// Werkzeug reads as the first, Django as neither (ErrBadHeader).
		{"two Content-Type fields", "POST /t HTTP/1.1\r\n" + hostH + "Content-Type: text/plain\r\n" +
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=1", 400, nil},
		{"two equal Content-Type fields", "POST /t HTTP/1.1\r\n" + hostH + "Content-Type: text/plain\r\n" +
			"content-type: text/plain\r\nContent-Length: 3\r\n\r\na=1", 400, nil},
		{"one Content-Type field", "POST /t HTTP/1.1\r\n" + hostH + "Content-Type: text/plain, x\r\nContent-Length: 3\r\n\r\na=1", 200,
			map[string]string{"REQUEST_METHOD": "POST"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := rawHTTP(t, e.addr, tc.raw)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, b)
			}
			if tc.code != 200 {
				if strings.Contains(string(b), "REQUEST_METHOD") {
					t.Errorf("the app answered: %s", b)
				}
				return
			}
			var env map[string]any
			decodeJSON(t, b, &env)
			for k, v := range tc.env {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %v (present %v), want %q", k, got, ok, v)
				}
			}
		})
	}
}

// TestContainerTargetsHTTP2: a space in an HTTP/2 request's :path (which
// net/http's HTTP/2 server lets through, where it refuses control bytes)
// is refused with 400 before the app sees it, as the guard refuses it in
// an HTTP/1.x request line, which cannot carry it: before, the app got
// REQUEST_URI "/a b" over HTTP/2 only. An escaped space is served. Two
// content-type fields are refused as over HTTP/1.1 (ErrBadHeader).
func TestContainerTargetsHTTP2(t *testing.T) {
	c, _ := newContainer(t, Config{App: "boundaryapp:app"})
	srv := httptest.NewUnstartedServer(c)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	writeFrame(t, conn, 0x4, 0, 0, nil) // SETTINGS
	for i, tc := range []struct {
		path, want string
		fields     []string
	}{
		{"/a%20b", "200", nil},
		{"/a b", "400", nil},
		{"/t?x=a b", "400", nil},
		{"/t?x=a%20b", "200", nil},
		{"/t", "400", []string{"content-type", "text/plain", "content-type", "text/html"}}, // ErrBadHeader
		{"/t", "200", []string{"content-type", "text/plain"}},
	} {
		stream := uint32(1 + 2*i)
		block := hpackLiterals(append([]string{":method", "GET", ":scheme", "https", ":path", tc.path, ":authority", "h"}, tc.fields...)...)
		writeFrame(t, conn, 0x1, 0x5, stream, block) // HEADERS, END_STREAM|END_HEADERS
		if got := h2Answer(t, conn, stream); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.path, got, tc.want)
		}
	}
}

// TestContainerAsteriskForm checks the environ of OPTIONS * (net/http's
// Server answers it without calling any handler, so the container sees it
// only when called directly).
func TestContainerAsteriskForm(t *testing.T) {
	c, _ := newContainer(t, Config{App: "boundaryapp:app"})
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("OPTIONS * HTTP/1.1\r\nHost: h:81\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	r.RemoteAddr = "192.0.2.1:1234"
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var env map[string]any
	decodeJSON(t, w.Body.Bytes(), &env)
	for k, v := range map[string]string{"REQUEST_METHOD": "OPTIONS", "SCRIPT_NAME": "", "PATH_INFO": "*", "QUERY_STRING": "",
		"REQUEST_URI": "*", "RAW_URI": "*", "HTTP_HOST": "h:81", "SERVER_NAME": "h", "SERVER_PORT": "81"} {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %q", k, got, ok, v)
		}
	}
}

// TestNoSniffedContentType checks that a response whose app sent no
// Content-Type gets none on every response path, with and without Guard.
func TestNoSniffedContentType(t *testing.T) {
	for _, guard := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "guarded"}[guard], func(t *testing.T) {
			e := startBoundary(t, guard, RequestLimits{})
			cases := []struct {
				name, raw string
				code      int
				body      string
			}{
				{"fast path", "GET /nosniff?mode=fast HTTP/1.1\r\n" + hostH + "\r\n", 200, boundaryHTML},
				{"fast path with Content-Length", "GET /nosniff?mode=fast_cl HTTP/1.1\r\n" + hostH + "\r\n", 200, boundaryHTML},
				{"fast path HEAD", "HEAD /nosniff?mode=fast HTTP/1.1\r\n" + hostH + "\r\n", 200, ""},
				{"empty body", "GET /nosniff?mode=empty HTTP/1.1\r\n" + hostH + "\r\n", 200, ""},
				{"streamed", "GET /nosniff?mode=stream HTTP/1.1\r\n" + hostH + "\r\n", 200, boundaryHTML},
				{"streamed to HTTP/1.0", "GET /nosniff?mode=stream HTTP/1.0\r\n\r\n", 200, boundaryHTML},
				{"write()", "GET /nosniff?mode=write HTTP/1.1\r\n" + hostH + "\r\n", 200, boundaryHTML},
				{"file_wrapper", "GET /nosniff?mode=file HTTP/1.1\r\n" + hostH + "\r\n", 200, boundaryHTML},
				{"error response with exc_info", "GET /nosniff?mode=exc_info HTTP/1.1\r\n" + hostH + "\r\n", 500, boundaryHTML},
				{"204", "GET /nosniff?mode=status204 HTTP/1.1\r\n" + hostH + "\r\n", 204, ""},
				{"304", "GET /nosniff?mode=status304 HTTP/1.1\r\n" + hostH + "\r\n", 304, ""},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					var resp *http.Response
					var b []byte
					if strings.HasPrefix(tc.raw, "HEAD") {
						resp = rawHEAD(t, e.addr, tc.raw)
					} else {
						resp, b = rawHTTP(t, e.addr, tc.raw)
					}
					if resp.StatusCode != tc.code || string(b) != tc.body {
						t.Errorf("status %d body %q, want %d %q", resp.StatusCode, b, tc.code, tc.body)
					}
					if ct, ok := resp.Header["Content-Type"]; ok {
						t.Errorf("Content-Type %q sent; the app sent none", ct)
					}
				})
			}
			// An exception before start_response: graft's own error page,
			// with the type graft declares, never sniffed.
			resp, b := rawHTTP(t, e.addr, "GET /nosniff?mode=raise HTTP/1.1\r\n"+hostH+"\r\n")
			if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
				resp.Header.Get("X-Content-Type-Options") != "nosniff" || strings.Contains(string(b), "<") {
				t.Errorf("app exception: %d %q %q", resp.StatusCode, resp.Header, b)
			}
		})
	}
}

// rawHEAD sends a raw HEAD request and reads its response (which has no
// body whatever its Content-Length says).
func rawHEAD(t testing.TB, addr, raw string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodHead})
	if err != nil {
		t.Fatalf("reading response to %q: %v", raw, err)
	}
	resp.Body.Close()
	return resp
}

// TestReadFull checks readFull's end-of-body rules.
func TestReadFull(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       io.Reader
		size    int
		wantN   int
		wantErr error
	}{
		{"full, EOF with the last bytes", &eofWith{data: "abcd"}, 4, 4, nil},
		{"full, more to come", strings.NewReader("abcdef"), 4, 4, nil},
		{"clean end before full", strings.NewReader("ab"), 4, 2, io.EOF},
		{"cut short", io.MultiReader(strings.NewReader("ab"), errReader{io.ErrUnexpectedEOF}), 4, 2, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := readFull(tc.r, make([]byte, tc.size))
			if n != tc.wantN || err != tc.wantErr {
				t.Errorf("readFull = %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
		})
	}
}

// eofWith returns all its data and io.EOF in one Read.
type eofWith struct{ data string }

func (r *eofWith) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if r.data == "" {
		return n, io.EOF
	}
	return n, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestChunkedUploadCutShort checks, without Guard, that a chunked body
// whose client stops mid-chunk is a 400 and never reaches the app
// truncated (a large one, spooled, and a small one).
func TestChunkedUploadCutShort(t *testing.T) {
	e := startBoundary(t, false, RequestLimits{})
	for _, size := range []int{10, 200 << 10} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			conn, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s",
				size+100, strings.Repeat("x", size))
			conn.(*net.TCPConn).CloseWrite()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 || strings.Contains(string(b), "body_len") {
				t.Errorf("status %d body %q, want 400 without the app", resp.StatusCode, b)
			}
		})
	}
}
