package main

// The response differential: testdata/diffresp_app.py answers odd but real
// WSGI responses, chosen by path, under wsgiserve and under gunicorn (the
// server users migrate from; -k gthread), and the test reads both answers
// off raw TCP sockets and compares status line, headers, framing, body and
// whether the connection serves a next request. What differs on purpose is
// listed with its reason, in diffrespRules for every case and in
// diffrespKnown for one (docs/operations.md, "Responses: what differs from
// gunicorn"); any other difference fails the test.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// diffrespMode is how a case's request is sent.
type diffrespMode string

const (
	get11    diffrespMode = "GET/1.1"            // keep-alive by default
	get11c   diffrespMode = "GET/1.1 close"      // Connection: close
	head11   diffrespMode = "HEAD/1.1"           // keep-alive by default
	get10    diffrespMode = "GET/1.0"            // closes by default
	get10ka  diffrespMode = "GET/1.0 keep-alive" // Connection: keep-alive
	head10ka diffrespMode = "HEAD/1.0 keep-alive"
	// The next request sent with the first, before its answer is read.
	pipe11 diffrespMode = "GET/1.1 pipelined"
	// A request body the app does not read, then the next request.
	post11  diffrespMode = "POST/1.1 body"
	post11c diffrespMode = "POST/1.1 chunked"
	// Expect: 100-continue, the body sent after the interim answer.
	post11e diffrespMode = "POST/1.1 expect"
)

// request is the raw request of mode for path; next is the request sent
// after it on its connection.
func (m diffrespMode) request(path, next string) string {
	method, rest, _ := strings.Cut(string(m), "/")
	version, conn, _ := strings.Cut(rest, " ")
	req := method + " " + path + " HTTP/" + version + "\r\nHost: diffresp.test\r\n"
	switch conn {
	case "":
	case "pipelined":
		return req + "\r\n" + next
	case "body":
		return req + "Content-Length: 11\r\n\r\nhello=world"
	case "chunked":
		return req + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n=world\r\n0\r\n\r\n"
	case "expect":
		return req + "Content-Length: 11\r\nExpect: 100-continue\r\n\r\n"
	default:
		req += "Connection: " + conn + "\r\n"
	}
	return req + "\r\n"
}

// nextRequest is the request for path sent after a case's request on its
// connection, if it stays open.
func nextRequest(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: diffresp.test\r\n\r\n"
}

// rawAnswer is one response as read off the socket.
type rawAnswer struct {
	status  string   // the status line
	header  []string // "name: value", names lower-cased, in the order received
	framing string   // length, chunked, close (read to EOF), none (HEAD, 1xx, 204, 304)
	body    string
	end     string // complete, or why the body ended early
	next    string // what a next request on the connection got: pong (or its status and body), closed
	interim string // the 100 Continue answer to Expect: 100-continue
}

func (a rawAnswer) String() string {
	s := fmt.Sprintf("%s\n  %s\n  framing=%s body=%q end=%s next=%s",
		a.status, strings.Join(a.header, "\n  "), a.framing, a.body, a.end, a.next)
	if a.interim != "" {
		s = a.interim + " then " + s
	}
	return s
}

// readAnswer reads one response to method from r. open is false when the
// connection ended with it (or said it would: Connection: close).
func readAnswer(r *bufio.Reader, method string) (a rawAnswer, open bool, err error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return a, false, fmt.Errorf("status line: %w (read %q)", err, line)
	}
	a.status = strings.TrimRight(line, "\r\n")
	code := 0
	if f := strings.Fields(a.status); len(f) > 1 {
		code, _ = strconv.Atoi(f[1])
	}
	length, chunked, closing := int64(-1), false, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return a, false, fmt.Errorf("header: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		name, value = strings.ToLower(name), strings.TrimLeft(value, " \t")
		switch name {
		case "content-length":
			length, _ = strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		case "transfer-encoding":
			chunked = strings.EqualFold(strings.TrimSpace(value), "chunked")
		case "connection":
			closing = strings.EqualFold(strings.TrimSpace(value), "close")
		}
		a.header = append(a.header, name+": "+value)
	}
	a.end = "complete"
	switch {
	case method == "HEAD" || code/100 == 1 || code == 204 || code == 304:
		a.framing = "none"
	case chunked:
		a.framing = "chunked"
		var body strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				a.body, a.end = body.String(), "eof in chunk size"
				return a, false, nil
			}
			size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
			if err != nil {
				a.body, a.end = body.String(), fmt.Sprintf("bad chunk size %q", line)
				return a, false, nil
			}
			if size == 0 {
				for { // trailers
					line, err := r.ReadString('\n')
					if err != nil {
						a.body, a.end = body.String(), "eof in trailer"
						return a, false, nil
					}
					if strings.TrimRight(line, "\r\n") == "" {
						break
					}
					a.header = append(a.header, "trailer "+strings.TrimRight(line, "\r\n"))
				}
				break
			}
			if _, err := io.CopyN(&body, r, size); err != nil {
				a.body, a.end = body.String(), "eof in chunk"
				return a, false, nil
			}
			if crlf, err := r.ReadString('\n'); err != nil || crlf != "\r\n" {
				a.body, a.end = body.String(), fmt.Sprintf("no CRLF after chunk (%q)", crlf)
				return a, false, nil
			}
		}
		a.body = body.String()
	case length >= 0:
		a.framing = "length"
		b := make([]byte, length)
		n, err := io.ReadFull(r, b)
		a.body = string(b[:n])
		if err != nil {
			a.end = fmt.Sprintf("eof after %d of %d bytes", n, length)
			return a, false, nil
		}
	default:
		a.framing = "close"
		b, err := io.ReadAll(r)
		a.body = string(b)
		switch {
		case errors.Is(err, syscall.ECONNRESET):
			a.end = "connection reset"
		case err != nil:
			a.end = err.Error()
		}
		return a, false, nil
	}
	return a, !closing, nil
}

// readFinalAnswer reads the answer to method from r; if expect (the
// request asked for 100-continue) and the server answered 100 Continue,
// it sends body on c and reads the final answer, whose interim is the
// 100's status line.
func readFinalAnswer(c io.Writer, r *bufio.Reader, method, body string, expect bool) (a rawAnswer, open bool, err error) {
	a, open, err = readAnswer(r, method)
	if err != nil || !expect || !strings.HasPrefix(a.status, "HTTP/1.1 100 ") {
		return a, open, err
	}
	interim := a.status
	if _, err := io.WriteString(c, body); err != nil {
		return a, open, err
	}
	if a, open, err = readAnswer(r, method); err != nil {
		return a, open, err
	}
	a.interim = interim
	return a, open, nil
}

// exchange sends mode's request for path on a new connection to addr,
// reads the answer, and then a GET of next (/ping if empty) on the same
// connection, all within 30 seconds.
func exchange(addr, path string, mode diffrespMode, next string) (rawAnswer, error) {
	return exchangeWithin(addr, path, mode, next, 30*time.Second)
}

// exchangeWithin is exchange within wait.
func exchangeWithin(addr, path string, mode diffrespMode, next string, wait time.Duration) (rawAnswer, error) {
	if next == "" {
		next = "/ping"
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return rawAnswer{}, err
	}
	defer c.Close()
	// A bound on a server that neither answers nor closes: none here does
	// (gunicorn closes a connection idle for its --keep-alive, 1 s).
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, mode.request(path, nextRequest(next))); err != nil {
		return rawAnswer{}, err
	}
	r := bufio.NewReader(c)
	method, _, _ := strings.Cut(string(mode), "/")
	a, open, err := readFinalAnswer(c, r, method, "hello=world", mode == post11e)
	if err != nil {
		return a, err
	}
	a.next = "closed"
	if !open {
		return a, nil
	}
	if mode != pipe11 {
		if _, err := io.WriteString(c, nextRequest(next)); err != nil {
			return a, nil
		}
	}
	switch p, _, err := readAnswer(r, "GET"); {
	case err == nil && p.body == "pong" && strings.HasPrefix(p.status, "HTTP/1.1 200 "):
		a.next = "pong"
	case err == nil && p.body == "pong":
		// Bytes the server sent past the first answer's end, read as
		// the start of the next status line (or as the status line, the
		// real one then taken for a header).
		stray, _, _ := strings.Cut(p.status, "HTTP/1.1 200 ")
		a.next = fmt.Sprintf(strayBody+"%q", stray)
	case err == nil:
		a.next = fmt.Sprintf("%s %q", p.status, p.body)
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
	default:
		a.next = "error: " + err.Error()
	}
	return a, nil
}

// normalise removes from one answer what may differ without mattering:
// the Server header gunicorn adds, Date's value (the app's own is kept),
// the Connection header (what the connection did is compared instead: the
// next request's answer), and the framing of a complete body
// (Content-Length, chunked or read to the connection's end delimit the same
// body: each is turned into a Content-Length). Header names are compared
// in lower case, and sorted (net/http writes them canonicalised and sorted
// by name; gunicorn as the app gave them): the order of one name's values
// is kept, the only order HTTP gives a meaning to.
func normalise(a rawAnswer) rawAnswer {
	var h []string
	length := false
	for _, f := range a.header {
		name, value, _ := strings.Cut(f, ": ")
		switch {
		case name == "server" && strings.HasPrefix(value, "gunicorn"), name == "connection":
			continue
		case name == "date" && !strings.HasPrefix(value, "Thu, 01 Jan 1970"):
			f = "date: <now>"
		case name == "transfer-encoding" && a.framing == "chunked" && a.end == "complete":
			continue
		case name == "content-length":
			length = true
		}
		h = append(h, f)
	}
	if (a.framing == "chunked" || a.framing == "close") && a.end == "complete" {
		a.framing = "length"
		if !length {
			h = append(h, "content-length: "+strconv.Itoa(len(a.body)))
		}
	}
	slices.SortStableFunc(h, func(x, y string) int {
		nx, _, _ := strings.Cut(x, ":")
		ny, _, _ := strings.Cut(y, ":")
		return strings.Compare(nx, ny)
	})
	a.header = h
	return a
}

// gunicornErrorPage is in the body of gunicorn's own 500 page.
const gunicornErrorPage = "<h1><p>Internal Server Error</p></h1>"

// diffrespRules are the differences on purpose that hold for every case,
// each with its reason (docs/operations.md, "Responses: what differs from
// gunicorn"). Each changes the normalised
// answers of wsgiserve (g) and gunicorn (u) to a request sent as mode so
// that they compare equal where the difference is the rule's alone.
var diffrespRules = []struct {
	why   string
	apply func(mode diffrespMode, g, u *rawAnswer)
}{{
	why: "the status line carries the code's standard reason phrase: net/http writes it and takes none " +
		"from a handler (\"299 Custom\" goes out as \"299 status code 299\"); gunicorn sends the app's",
	apply: func(_ diffrespMode, g, u *rawAnswer) {
		g.status, u.status = statusCode(g.status), statusCode(u.status)
	},
}, {
	why: "an error before the head (the app raised, returned nothing usable, misused start_response) is " +
		"graft's 500 (text/plain, DefaultErrorHandler) on a connection kept open; gunicorn's is an HTML " +
		"page without Date, as HTTP/1.1 even to HTTP/1.0, and closes the connection",
	apply: func(mode diffrespMode, g, u *rawAnswer) {
		if strings.HasSuffix(statusCode(u.status), " 500") && strings.HasSuffix(statusCode(g.status), " 500") &&
			(strings.Contains(u.body, gunicornErrorPage) || strings.HasPrefix(string(mode), "HEAD")) &&
			slices.Contains(g.header, "x-content-type-options: nosniff") {
			for _, a := range []*rawAnswer{g, u} {
				a.status, a.header, a.body, a.next = "500 error page", nil, "", "-"
			}
		}
	},
}, {
	why: "a request sent before the answer to the one before it (HTTP/1.1 pipelining) is answered in turn by net/http; " +
		"gunicorn's gthread worker drops it and closes the connection once idle for --keep-alive",
	apply: func(mode diffrespMode, g, u *rawAnswer) {
		if mode == pipe11 && g.next == "pong" && u.next == "closed" {
			u.next = "pong"
		}
	},
}, {
	why: "no body is sent for HEAD, nor for a 204 or 304 the app gave one; gunicorn 20 sends the app's body " +
		"(its bytes are read as the start of the next answer on the connection)",
	apply: func(mode diffrespMode, g, u *rawAnswer) {
		s := statusCode(u.status)
		if (strings.HasPrefix(string(mode), "HEAD") || strings.HasSuffix(s, " 204") || strings.HasSuffix(s, " 304")) &&
			g.next == "pong" && strings.HasPrefix(u.next, strayBody) {
			u.next = "pong"
		}
	},
}, {
	why: "HEAD carries the Content-Length a GET would when graft knows it (a list body, a file); " +
		"gunicorn sends only the app's own",
	apply: func(mode diffrespMode, g, u *rawAnswer) {
		if strings.HasPrefix(string(mode), "HEAD") && !slices.ContainsFunc(u.header, isContentLength) {
			g.header = slices.DeleteFunc(g.header, isContentLength)
		}
	},
}}

// strayBody is how exchange reports a next answer read after bytes the
// server sent past the end of the first one.
const strayBody = "pong after stray "

// statusCode is the status line without its reason phrase.
func statusCode(line string) string {
	f := strings.Fields(line)
	return strings.Join(f[:min(len(f), 2)], " ")
}

func isContentLength(f string) bool { return strings.HasPrefix(f, "content-length:") }

// diffrespCase is one view of testdata/diffresp_app.py and the requests
// sent to it.
type diffrespCase struct {
	path  string
	modes []diffrespMode // GET/1.1 if none
}

// diffrespNext is the path of the request sent after a case's on its
// connection, where it is not /ping.
var diffrespNext = map[string]string{
	"/close-iter": "/closed", // its close() was called before the next request
}

var diffrespCases = []diffrespCase{
	{"/ping", []diffrespMode{get11, get11c, head11, get10, get10ka, head10ka, pipe11, post11, post11c}},
	{"/status-noreason", nil},
	{"/status-reason-odd", nil},
	{"/status-reason-empty", nil},
	{"/status-reason-lower", nil},
	{"/status-299", nil},
	{"/status-599", nil},
	{"/status-999", nil},
	{"/status-103", nil},
	{"/status-101", nil},
	{"/status-204", nil},
	{"/status-204-body", []diffrespMode{get11, pipe11}},
	{"/status-304", nil},
	{"/status-304-body", nil},
	{"/hdr-lower", nil},
	{"/hdr-oddcase", nil},
	{"/hdr-setcookie-dup", []diffrespMode{get11, head11}},
	{"/hdr-dup-other", nil},
	{"/hdr-order", nil},
	{"/hdr-spaces", nil},
	{"/hdr-tab", nil},
	{"/hdr-empty", nil},
	{"/hdr-latin1", nil},
	{"/hdr-location", nil},
	{"/cl-short", []diffrespMode{get11, get10ka, pipe11}},
	{"/cl-long", []diffrespMode{get11, head11, pipe11}},
	{"/cl-spaces", nil},
	{"/cl-zero-body", nil},
	{"/cl-204", nil},
	{"/cl-304", nil},
	{"/cl-gen", []diffrespMode{get11, head11, get10}},
	{"/app-te-chunked", nil},
	{"/app-conn-close", nil},
	{"/app-conn-keepalive", []diffrespMode{get11, get10}},
	{"/app-keepalive", nil},
	{"/app-upgrade", nil},
	{"/app-te", nil},
	{"/app-trailer", nil},
	{"/app-date", nil},
	{"/app-server", nil},
	{"/no-ctype", []diffrespMode{get11, head11}},
	{"/no-ctype-gen", nil},
	{"/no-ctype-empty", nil},
	{"/empty-list", []diffrespMode{get11, get10, head11}},
	{"/empty-bytes", nil},
	{"/gen", []diffrespMode{get11, get11c, head11, get10, get10ka, head10ka, post11, post11c}},
	{"/gen-empty-strings", []diffrespMode{get11, get10}},
	{"/gen-only-empty", []diffrespMode{get11, get10}},
	{"/write-plus-iter", []diffrespMode{get11, get10}},
	{"/write-only", nil},
	{"/close-iter", nil},
	{"/gen-raise-before", []diffrespMode{get11, get10}},
	{"/gen-raise-after", []diffrespMode{get11, get10, pipe11}},
	{"/gen-raise-after-cl", nil},
	{"/raise", []diffrespMode{get11, head11, post11}},
	{"/start-twice", nil},
	{"/exc-info-before", nil},
	{"/exc-info-after", nil},
	{"/bytes-subclass", nil},
	{"/bytes-subclass-gen", nil},
	{"/bytearray", nil},
	{"/str-body", nil},
	{"/none-body", nil},
	{"/no-start", nil},
	{"/gen-empty-then-raise", []diffrespMode{get11, get10}},
	{"/cl-zero-gen", nil},
	{"/cl-long", []diffrespMode{get10ka}},
	{"/read-body", []diffrespMode{post11, post11c, post11e}},
	{"/cl-leading-zero", nil},
	{"/cl-plus", nil},
	{"/cl-dup-same", nil},
	{"/cl-gen-long", []diffrespMode{get11, get10}},
	{"/hdr-ctype-dup", nil},
	{"/hdr-ctype-empty", nil},
	{"/hdr-case-dup", nil},
	{"/hdr-setcookie-expires", nil},
	{"/hdr-only-spaces", nil},
	{"/hdr-many", nil},
	{"/status-trailing-space", nil},
	{"/status-205-body", nil},
	{"/status-304-ctype", nil},
	{"/status-204", []diffrespMode{get10, head11}},
	{"/start-in-gen", []diffrespMode{get11, head11}},
	{"/start-in-gen-empty", nil},
	{"/write-in-gen", nil},
	{"/exc-info-none", nil},
	{"/close-raises", nil},
	{"/memoryview", nil},
	{"/big-list", []diffrespMode{get11, get10}},
	{"/hdr-del", nil},
	{"/hdr-nul", nil},
	{"/hdr-crlf", nil},
	{"/hdr-underscore", nil},
	{"/hdr-name-space", nil},
	{"/hdr-name-colon", nil},
	{"/status-crlf", nil},
	{"/fw-empty", []diffrespMode{get11, head11, get10}},
	{"/fw-bytesio", []diffrespMode{head11}},
	{"/gen-raise-after-cl", []diffrespMode{head11}},
	{"/gen-raise-before", []diffrespMode{head11}},
	{"/status-304", []diffrespMode{get10}},
	{"/many-chunks", []diffrespMode{get11, get10}},
	{"/many-chunks-gen", []diffrespMode{get11, get10}},
	{"/fw-file", []diffrespMode{get11, head11, get10}},
	{"/fw-file-cl", nil},
	{"/fw-bytesio", []diffrespMode{get11, get10}},
}

// diffrespKnown are the differences on purpose of one case: its path and
// mode ("path mode") to wsgiserve's answer (normalised, after the rules)
// and why it differs from gunicorn's, which is logged, not checked: it is
// gunicorn's to change.
var diffrespKnown = map[string]struct{ graft, why string }{
	"/ping GET/1.0 keep-alive": {ok10KeepAlive, "an HTTP/1.0 client's Connection: keep-alive is honoured (net/http); gunicorn closes every HTTP/1.0 connection"},

	"/status-103 GET/1.1": {refused500, "a 1xx status from start_response is refused (500 and the traceback; wsgi.early_hints sends a 103); " +
		"gunicorn sends it as the final response, with a chunked body after it that the client reads as the next response"},
	"/status-101 GET/1.1": {refused500, "as /status-103: the app cannot switch protocols through WSGI; gunicorn's 101 leaves the connection unusable"},

	"/app-te-chunked GET/1.1":     {refused500, hopByHop},
	"/app-conn-close GET/1.1":     {refused500, hopByHop},
	"/app-conn-keepalive GET/1.1": {refused500, hopByHop},
	"/app-conn-keepalive GET/1.0": {refused500At10, hopByHop},
	"/app-keepalive GET/1.1":      {refused500, hopByHop},
	"/app-upgrade GET/1.1":        {refused500, hopByHop},
	"/app-te GET/1.1":             {refused500, hopByHop},
	"/app-trailer GET/1.1":        {refused500, hopByHop},

	"/cl-plus GET/1.1":     {refused500, "a Content-Length that is not digits (\"+5\") is refused by start_response; gunicorn sends it, and a strict client rejects the response"},
	"/cl-dup-same GET/1.1": {refused500, "Content-Length given twice is refused by start_response, even with equal values; gunicorn sends both"},
	"/str-body GET/1.1":    {refused500, "a str item in a list body is refused before the head is sent (500); gunicorn sends a 200 head, then fails and cuts the connection"},

	"/hdr-del GET/1.1":        {refused500, badHeader},
	"/hdr-nul GET/1.1":        {refused500, badHeader},
	"/hdr-crlf GET/1.1":       {refused500, badHeader},
	"/hdr-name-space GET/1.1": {refused500, badHeader},
	"/hdr-name-colon GET/1.1": {refused500, badHeader},
	"/status-crlf GET/1.1": {refused500, "a status with CR, LF or other control characters is refused by start_response; " +
		"gunicorn 20 sends it as it is: the app's text after the CRLF becomes a header (response splitting)"},

	"/gen-raise-after-cl HEAD/1.1": {"HTTP/1.1 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=none body=\"\" end=complete next=pong",
		"a streamed body is not iterated past its head for HEAD (the generator gets GeneratorExit), so its later error never happens; " +
			"gunicorn iterates it all, meets the error and closes the connection"},

	"/gen-empty-then-raise GET/1.1": {refused500, emptyChunk},
	"/gen-empty-then-raise GET/1.0": {refused500At10, emptyChunk},

	"/bytearray GET/1.1": {"HTTP/1.1 200\n  content-length: 2\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"ba\" end=complete next=pong",
		"bytearray and memoryview items are sent as bytes; gunicorn 20 sends a head, then fails on them and cuts the connection"},
	"/memoryview GET/1.1": {"HTTP/1.1 200\n  content-length: 7\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"memview\" end=complete next=pong",
		"as /bytearray"},

	"/cl-204 GET/1.1": {"HTTP/1.1 204\n  date: <now>\n  framing=none body=\"\" end=complete next=pong",
		"the app's Content-Length is dropped from 1xx, 204 and 304 (RFC 9110 8.6: never on a 204), the same over HTTP/1.1 and HTTP/2; gunicorn sends it"},
	"/cl-304 GET/1.1": {"HTTP/1.1 304\n  date: <now>\n  framing=none body=\"\" end=complete next=pong",
		"as /cl-204"},
	"/status-304-ctype GET/1.1": {"HTTP/1.1 304\n  date: <now>\n  etag: \"x\"\n  framing=none body=\"\" end=complete next=pong",
		"net/http drops Content-Type from a 304 (graft does so over HTTP/2 too); gunicorn sends it"},

	"/app-date GET/1.1": {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: Thu, 01 Jan 1970 00:00:00 GMT\n  framing=length body=\"hello\" end=complete next=pong",
		"the app's Date is sent (net/http adds one only when the app sent none); gunicorn replaces it with its own"},
	"/app-server GET/1.1": {"HTTP/1.1 200\n  content-length: 5\n  content-type: text/plain\n  date: <now>\n  server: diffresp-app\n  framing=length body=\"hello\" end=complete next=pong",
		"the app's Server is sent, and graft adds none of its own; gunicorn replaces it with \"gunicorn\""},

	"/exc-info-before GET/1.1": {"HTTP/1.1 500\n  content-length: 10\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"error page\" end=complete next=pong",
		"start_response with exc_info before the head replaces the headers (PEP 3333); gunicorn 20 sends the first call's headers and the second's (Content-Type twice)"},
	"/exc-info-none GET/1.1": {"HTTP/1.1 500\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"none\" end=complete next=pong",
		"as /exc-info-before, with exc_info (None, None, None)"},

	"/gen-raise-after GET/1.0": {"HTTP/1.0 200\n  content-type: text/plain\n  date: <now>\n  framing=close body=\"ab\" end=connection reset next=closed",
		"a response without Content-Length that fails after its head, to HTTP/1.0, is ended with a TCP reset, so that the client sees it cut; " +
			"gunicorn closes the connection in order and the client takes the part for the whole"},
	"/close-raises GET/1.1": {"HTTP/1.1 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"body\" end=complete next=pong",
		"an exception in the iterable's close() is logged and the response stands, connection kept; gunicorn closes the connection"},
}

const (
	// refused500 is wsgiserve's answer to a response start_response
	// refuses.
	refused500 = "HTTP/1.1 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n" +
		"  framing=length body=\"Internal Server Error\\n\" end=complete next=pong"
	// refused500At10 is refused500 to HTTP/1.0, whose connection closes.
	refused500At10 = "HTTP/1.0 500\n  content-length: 22\n  content-type: text/plain; charset=utf-8\n  date: <now>\n  x-content-type-options: nosniff\n" +
		"  framing=length body=\"Internal Server Error\\n\" end=complete next=closed"
	emptyChunk = "an empty chunk does not send the head, so an error after empty chunks only is still a 500; " +
		"gunicorn sends the head with the first chunk, empty or not, then cuts the response"
	ok10KeepAlive = "HTTP/1.0 200\n  content-length: 4\n  content-type: text/plain\n  date: <now>\n  framing=length body=\"pong\" end=complete next=pong"
	badHeader     = "a header name that is not a token, or a value with control characters (DEL, NUL, CR, LF), is refused by start_response (500 and the traceback); " +
		"gunicorn answers its own 400 Bad Request page, as if the client had erred"
	hopByHop = "hop-by-hop headers from the app are refused by start_response (500 and the traceback), as PEP 3333 asks; gunicorn 20 drops them silently (Upgrade: websocket and Trailer it sends)"
)

// TestResponseDifferential compares wsgiserve's raw HTTP/1.x answers to
// gunicorn's for the views of testdata/diffresp_app.py.
func TestResponseDifferential(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	s := startCmd(t, exec.Command(bin, "-bind", "127.0.0.1:0", "-python", pythontest.Python(t), "diffresp_app:app",
		"-chdir", dir, "-workers", "1", "-threads", "1", "-access-log=false", "-graceful-timeout", "5"), false)
	graftAddr := strings.TrimPrefix(s.url, "http://")
	gunicornAddr, _ := pythontest.Gunicorn(t, dir, "diffresp_app:app", "-k", "gthread", "--threads", "1", "--keep-alive", "1")
	// gunicorn boots while wsgiserve starts; wait for its first answer.
	for i := 0; ; i++ {
		if a, err := exchange(gunicornAddr, "/ping", get11, ""); err == nil && a.body == "pong" {
			break
		} else if i == 300 {
			t.Fatalf("gunicorn does not answer: %v %v", a, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tc := range diffrespCases {
		for _, mode := range tc.requests() {
			key := tc.path + " " + string(mode)
			t.Run(strings.ReplaceAll(strings.TrimPrefix(key, "/"), "/", " "), func(t *testing.T) {
				g, err := exchange(graftAddr, tc.path, mode, diffrespNext[tc.path])
				if err != nil {
					t.Fatalf("wsgiserve: %v (%v)", err, g)
				}
				u, err := exchange(gunicornAddr, tc.path, mode, diffrespNext[tc.path])
				if err != nil {
					t.Fatalf("gunicorn: %v (%v)", err, u)
				}
				g, u = normalise(g), normalise(u)
				for _, r := range diffrespRules {
					r.apply(mode, &g, &u)
				}
				gs, us := g.String(), u.String()
				if testing.Verbose() {
					t.Logf("wsgiserve:\n%s\ngunicorn:\n%s", gs, us)
				}
				if known, ok := diffrespKnown[key]; ok {
					if gs != known.graft {
						t.Errorf("known difference (%s) changed:\nwsgiserve:\n%s\nlisted:\n%s\ngunicorn:\n%s",
							known.why, gs, known.graft, us)
					}
					return
				}
				if gs != us {
					t.Errorf("differs from gunicorn:\nwsgiserve:\n%s\ngunicorn:\n%s", gs, us)
				}
			})
		}
	}
}

// requests are the modes a case is sent with.
func (tc diffrespCase) requests() []diffrespMode {
	if tc.modes == nil {
		return []diffrespMode{get11}
	}
	return tc.modes
}

// TestResponseDifferentialTable checks that each case is sent once per
// mode and each known difference names a case that is sent.
func TestResponseDifferentialTable(t *testing.T) {
	sent := map[string]bool{}
	for _, tc := range diffrespCases {
		for _, mode := range tc.requests() {
			key := tc.path + " " + string(mode)
			if sent[key] {
				t.Errorf("diffrespCases sends %q twice", key)
			}
			sent[key] = true
		}
	}
	for key := range diffrespKnown {
		if !sent[key] {
			t.Errorf("diffrespKnown lists %q, which no case sends", key)
		}
	}
}
