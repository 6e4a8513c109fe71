package main

// The request side of wsgiserve against gunicorn, the server its users
// come from: the same environ-echo app (testdata/diffenv_app.py) runs
// under wsgiserve and under gunicorn (its gthread worker, as wsgiserve's
// -threads N; its sync worker for -threads 1), each request of a corpus
// is written byte for byte to both over a raw connection (TCP, a Unix
// socket or TLS; from a trusted proxy or a load balancer sending the
// PROXY protocol), and what the app saw (its environ and the body it read
// in one of several ways) and what the client got (status, 100 Continue,
// whether the connection stays open) are compared. The differences known and decided on are listed in
// diffenvKnown with their reason; any other difference, or a listed one
// that is gone, fails the test.

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
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
	"github.com/graft-dev/graft/internal/testcert"
)

// diffenvCase is one exchange: raw is written as is, and n responses are
// read from the connection.
type diffenvCase struct {
	name string
	raw  string
	// clear is written before the TLS handshake, on a TLS run: a PROXY
	// protocol header, as HAProxy and AWS's NLB send it (raw, after the
	// handshake, is the request).
	clear string
	n     int // responses to read; 1 when 0
	// graftOnly: the request is not sent to gunicorn, which never
	// answers it (it waits for the end of a head it does not see);
	// graft must answer this status.
	graftOnly int
}

// diffenvHost is the Host every request of the corpus sends unless it is
// about Host itself.
const diffenvHost = "diffenv.test"

// rawGet is a GET of target with Host diffenvHost and the header lines hs.
func rawGet(target string, hs ...string) string {
	return rawReq("GET", target, "", hs...)
}

// rawReq is a request with method, target, the header lines hs and body
// (Content-Length is not added: the header lines say how the body is
// framed).
func rawReq(method, target, body string, hs ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + diffenvHost + "\r\n")
	for _, h := range hs {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// rawPost is a POST of body with its Content-Length and the header lines hs.
func rawPost(target, body string, hs ...string) string {
	return rawReq("POST", target, body, append([]string{fmt.Sprintf("Content-Length: %d", len(body))}, hs...)...)
}

// rawChunked is a POST whose body is sent chunked as the raw chunks.
func rawChunked(target, chunks string, hs ...string) string {
	return rawReq("POST", target, chunks, append([]string{"Transfer-Encoding: chunked"}, hs...)...)
}

// diffenvLines is a body of lines, the last without its newline.
const diffenvLines = "one\ntwo lines\n\nlast without newline"

var diffenvCorpus = []diffenvCase{
	// The request target.
	{name: "plain path", raw: rawGet("/a/b")},
	{name: "root", raw: rawGet("/")},
	{name: "escaped slash", raw: rawGet("/a%2Fb")},
	{name: "escaped slash lower case", raw: rawGet("/a%2fb")},
	{name: "escaped percent", raw: rawGet("/a%25b")},
	{name: "escaped NUL", raw: rawGet("/a%00b")},
	{name: "escaped non-UTF-8 byte", raw: rawGet("/a%FFb")},
	{name: "escaped UTF-8", raw: rawGet("/caf%C3%A9")},
	{name: "raw UTF-8 in the target", raw: rawGet("/caf\xc3\xa9")},
	{name: "escaped space", raw: rawGet("/sp%20ace")},
	{name: "escaped tilde", raw: rawGet("/%7Euser")},
	{name: "plus in the path", raw: rawGet("/a+b")},
	{name: "semicolon params", raw: rawGet("/a;b=c/d;e")},
	{name: "double slashes", raw: rawGet("//double//slashes")},
	{name: "dot segment", raw: rawGet("/a/./b")},
	{name: "dot-dot segment", raw: rawGet("/a/../b")},
	{name: "dot-dot above the root", raw: rawGet("/../etc")},
	{name: "escaped dot-dot", raw: rawGet("/a/%2E%2E/b")},
	{name: "absolute form", raw: rawGet("http://other.test/x?y=1")},
	{name: "absolute form with port", raw: rawGet("http://other.test:8080/x")},
	{name: "absolute form https", raw: rawGet("https://other.test/x")},
	{name: "query with plus and escapes", raw: rawGet("/q?a=b+c&d=%20e&f=%2B")},
	{name: "empty query", raw: rawGet("/q?")},
	{name: "root empty query", raw: rawGet("/?")},
	{name: "repeated query keys", raw: rawGet("/q?a=1&a=2&b")},
	{name: "query non-UTF-8", raw: rawGet("/q?a=%FF")},
	{name: "query raw UTF-8", raw: rawGet("/q?a=caf\xc3\xa9")},
	{name: "fragment", raw: rawGet("/q#frag")},
	{name: "query and fragment", raw: rawGet("/q?x=1#frag")},
	{name: "question mark escaped", raw: rawGet("/a%3Fb?c")},
	{name: "escaped slash, dot-dot", raw: rawGet("/a/..%2Fb")},
	{name: "malformed escape in the path", raw: rawGet("/a%zz")},
	{name: "malformed escape in the query", raw: rawGet("/q?a=%zz")},
	{name: "backslash", raw: rawGet("/a\\b")},
	{name: "long path", raw: rawGet("/" + strings.Repeat("p", 4000))},
	{name: "request line too long", raw: rawGet("/" + strings.Repeat("p", 5000))},
	{name: "lower-case method", raw: rawReq("get", "/x", "")},
	{name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: diffenv.test\r\n\r\n"},
	{name: "HTTP/2.0 in the request line", raw: "GET / HTTP/2.0\r\nHost: diffenv.test\r\n\r\n"},
	{name: "lower-case version", raw: "GET / http/1.1\r\nHost: diffenv.test\r\n\r\n"},
	{name: "two spaces in the request line", raw: "GET  / HTTP/1.1\r\nHost: diffenv.test\r\n\r\n"},
	{name: "bare LF line ends", raw: "GET /lf HTTP/1.1\nHost: diffenv.test\n\n", graftOnly: 400},
	{name: "empty lines before the request", raw: "\r\n\r\n" + rawGet("/after")},
	{name: "OPTIONS asterisk", raw: rawReq("OPTIONS", "*", "")},
	{name: "custom method", raw: rawReq("PURGE", "/x", "")},

	// Header fields.
	{name: "two Accept", raw: rawGet("/", "Accept: text/html", "Accept: application/json")},
	{name: "two Cookie", raw: rawGet("/", "Cookie: a=1", "Cookie: b=2")},
	{name: "two X-Foo", raw: rawGet("/", "X-Foo: 1", "X-Foo: 2")},
	{name: "X-Foo with a list and again", raw: rawGet("/", "X-Foo: 1, 2", "X-Foo: 3")},
	{name: "odd case", raw: rawGet("/", "x-FOO: 1", "aCCEPT-lANGUAGE: fr")},
	{name: "underscore", raw: rawGet("/", "X_Foo: under")},
	{name: "underscore and dash", raw: rawGet("/", "X-Foo: dash", "X_Foo: under")},
	{name: "obs-fold", raw: rawGet("/", "X-Fold: a", " b", "X-After: c")},
	{name: "empty value", raw: rawGet("/", "X-Empty:")},
	{name: "empty value with space", raw: rawGet("/", "X-Empty: ")},
	{name: "spaces around the value", raw: rawGet("/", "X-Sp:   v  w   ")},
	{name: "tab in the value", raw: rawGet("/", "X-Tab: a\tb")},
	{name: "latin-1 value", raw: rawGet("/", "X-Lat: caf\xe9")},
	{name: "UTF-8 value", raw: rawGet("/", "X-Utf: caf\xc3\xa9")},
	{name: "long value", raw: rawGet("/", "X-Long: "+strings.Repeat("v", 6000))},
	{name: "many fields", raw: rawGet("/", diffenvManyFields(60)...)},
	{name: "Proxy header", raw: rawGet("/", "Proxy: http://evil.test")},
	{name: "Connection names a header", raw: rawGet("/", "Connection: X-Hop", "X-Hop: 1")},
	{name: "TE trailers", raw: rawGet("/", "TE: trailers")},
	{name: "Upgrade", raw: rawGet("/", "Connection: Upgrade", "Upgrade: websocket")},
	{name: "Authorization", raw: rawGet("/", "Authorization: Basic dTpw")},
	{name: "space before the colon", raw: rawGet("/", "X-Foo : 1")},
	{name: "space in the name", raw: rawGet("/", "X Foo: 1")},
	{name: "control byte in the value", raw: rawGet("/", "X-Ctl: a\x01b")},
	{name: "dots in the name", raw: rawGet("/", "X.Foo: dot")},
	{name: "too many fields", raw: rawGet("/", diffenvManyFields(101)...)},
	{name: "field line too long", raw: rawGet("/", "X-Long: "+strings.Repeat("v", 8200))},
	{name: "Content-Length header on GET without body", raw: rawGet("/", "Content-Length: 0")},
	{name: "two Content-Type", raw: rawPost("/", "x", "Content-Type: text/plain", "Content-Type: text/html")},
	{name: "Content-Type with parameters", raw: rawPost("/", "x", "Content-Type: text/plain; charset=latin-1")},
	{name: "two Authorization", raw: rawGet("/", "Authorization: Basic dTpw", "Authorization: Bearer t")},
	{name: "lower-case cookie", raw: rawGet("/", "cookie: a=1", "COOKIE: b=2")},
	{name: "X-Request-ID from the client", raw: rawGet("/", "X-Request-ID: client-id")},
	{name: "escaped hash", raw: rawGet("/a%23b?c=%23")},
	{name: "Host with a trailing dot", raw: "GET / HTTP/1.1\r\nHost: diffenv.test.\r\n\r\n"},
	{name: "absolute form without Host", raw: "GET http://other.test/x HTTP/1.1\r\n\r\n"},
	{name: "absolute form on HTTP/1.0", raw: "GET http://other.test/x HTTP/1.0\r\n\r\n"},
	{name: "HTTP/1.0 POST", raw: "POST / HTTP/1.0\r\nHost: diffenv.test\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "HTTP/1.0 POST without Content-Length", raw: "POST / HTTP/1.0\r\nHost: diffenv.test\r\n\r\n"},
	{name: "two X-Forwarded-For", raw: rawGet("/", "X-Forwarded-For: 10.0.0.1", "X-Forwarded-For: 10.0.0.2")},
	// gunicorn's default limits, which graft's are: the last request that
	// passes and the first that does not.
	{name: "request line at the limit", raw: rawGet("/" + strings.Repeat("p", 4094-len("GET / HTTP/1.1")))},
	{name: "request line over the limit", raw: rawGet("/" + strings.Repeat("p", 4095-len("GET / HTTP/1.1")))},
	{name: "100 fields", raw: rawGet("/", diffenvManyFields(99)...)},
	{name: "101 fields", raw: rawGet("/", diffenvManyFields(100)...)},
	{name: "field line at the limit", raw: rawGet("/", "X-Long: "+strings.Repeat("v", 8190-len("X-Long: ")))},
	{name: "field line over the limit", raw: rawGet("/", "X-Long: "+strings.Repeat("v", 8191-len("X-Long: ")))},
	{name: "head over 64 KiB", raw: rawGet("/", diffenvLongFields(9, 8000)...)},
	{name: "Content-Type on GET", raw: rawGet("/", "Content-Type: text/plain")},

	// Host.
	{name: "Host with port", raw: "GET / HTTP/1.1\r\nHost: diffenv.test:8080\r\n\r\n"},
	{name: "Host IPv6 with port", raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
	{name: "Host IPv6", raw: "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"},
	{name: "Host with a bad port", raw: "GET / HTTP/1.1\r\nHost: diffenv.test:abc\r\n\r\n"},
	{name: "Host with a path", raw: "GET / HTTP/1.1\r\nHost: diffenv.test/x\r\n\r\n"},
	{name: "Host upper case", raw: "GET / HTTP/1.1\r\nHost: DiffEnv.TEST\r\n\r\n"},
	{name: "Host empty", raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
	{name: "HTTP/1.1 without Host", raw: "GET / HTTP/1.1\r\n\r\n"},
	{name: "two Host", raw: "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"},
	{name: "HTTP/1.0 without Host", raw: "GET /old HTTP/1.0\r\n\r\n"},
	{name: "HTTP/1.0 with Host", raw: "GET /old HTTP/1.0\r\nHost: diffenv.test\r\n\r\n"},
	{name: "HTTP/1.0 keep-alive", n: 2, raw: "GET /one HTTP/1.0\r\nHost: diffenv.test\r\nConnection: keep-alive\r\n\r\n" +
		"GET /two HTTP/1.0\r\nHost: diffenv.test\r\n\r\n"},
	{name: "HTTP/1.1 pipelined", n: 2, raw: rawGet("/one") + rawPost("/two", "body")},
	{name: "HTTP/1.1 Connection close", raw: rawGet("/", "Connection: close")},

	// Forwarding headers from a peer nobody trusts.
	{name: "X-Forwarded-For and Proto", raw: rawGet("/", "X-Forwarded-For: 10.1.2.3", "X-Forwarded-Proto: https")},
	{name: "X-Forwarded-Host", raw: rawGet("/", "X-Forwarded-Host: evil.test", "X-Forwarded-Port: 443")},
	{name: "X-Forwarded-Ssl", raw: rawGet("/", "X-Forwarded-Ssl: on")},
	{name: "Forwarded", raw: rawGet("/", "Forwarded: for=10.1.2.3;proto=https;host=evil.test")},
	{name: "X-Real-IP", raw: rawGet("/", "X-Real-IP: 10.1.2.3")},

	// Bodies.
	{name: "POST Content-Length 0", raw: rawPost("/", "")},
	{name: "POST without a body", raw: rawReq("POST", "/", "")},
	{name: "GET with a body", raw: rawReq("GET", "/", "hello", "Content-Length: 5")},
	{name: "POST read", raw: rawPost("/", "hello world")},
	{name: "POST read(3)", raw: rawPost("/", "hello world", "X-Diffenv-Read: readn")},
	{name: "POST readline", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: readline")},
	{name: "POST readline(4)", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: readlinen")},
	{name: "POST readlines", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: readlines")},
	{name: "POST iteration", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: iter")},
	{name: "POST read(-1)", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: readneg")},
	{name: "POST read(None)", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: readnone")},
	{name: "POST read(0)", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: read0")},
	{name: "POST readline(-1)", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: readlineneg")},
	{name: "POST readlines(5)", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: readlinesh")},
	{name: "POST mixed reads", raw: rawPost("/", diffenvLines, "X-Diffenv-Read: mixed")},
	{name: "POST CRLF lines", raw: rawPost("/", "a\r\nb\rc\n", "X-Diffenv-Read: readline")},
	{name: "POST large body read(3)", raw: rawPost("/", strings.Repeat("0123456789\n", 300), "X-Diffenv-Read: readn")},
	{name: "POST large body readline", raw: rawPost("/", strings.Repeat("x", 70000)+"\nend", "X-Diffenv-Read: readline")},
	{name: "spooled body read", raw: rawPost("/", diffenvBig(200000))},
	{name: "smaller spooled body read", raw: rawPost("/", diffenvBig(80000))},
	{name: "spooled body read(3)", raw: rawPost("/", diffenvBig(70000), "X-Diffenv-Read: readn")},
	{name: "spooled body readline(4)", raw: rawPost("/", diffenvBig(70000), "X-Diffenv-Read: readlinen")},
	{name: "spooled body readlines", raw: rawPost("/", diffenvBig(90000), "X-Diffenv-Read: readlines")},
	{name: "spooled body iteration", raw: rawPost("/", diffenvBig(90000), "X-Diffenv-Read: iter")},
	{name: "spooled body mixed reads", raw: rawPost("/", diffenvBig(90000), "X-Diffenv-Read: mixed")},
	{name: "spooled body read(0)", raw: rawPost("/", diffenvBig(90000), "X-Diffenv-Read: read0")},
	{name: "spooled body not read", raw: rawPost("/", diffenvBig(90000), "X-Diffenv-Read: none")},
	{name: "spooled chunked body", raw: rawChunked("/", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 100000, diffenvBig(100000)), "X-Diffenv-Read: readline")},
	{name: "small body after spooled ones", raw: rawPost("/", "small")},
	{name: "PUT", raw: rawReq("PUT", "/", "put", "Content-Length: 3")},
	{name: "DELETE without a body", raw: rawReq("DELETE", "/", "")},
	{name: "PATCH", raw: rawReq("PATCH", "/", "{}", "Content-Length: 2", "Content-Type: application/json")},
	{name: "POST not read", raw: rawPost("/", "unread", "X-Diffenv-Read: none")},
	{name: "POST binary", raw: rawPost("/", "\x00\xff\r\n\x80", "Content-Type: application/octet-stream")},
	{name: "POST form", raw: rawPost("/", "a=1&b=%20", "Content-Type: application/x-www-form-urlencoded")},
	{name: "Content-Type absent", raw: rawPost("/", "x")},
	{name: "Content-Type empty", raw: rawPost("/", "x", "Content-Type:")},
	{name: "Content-Length leading zeros", raw: rawReq("POST", "/", "hello", "Content-Length: 005")},
	{name: "Content-Length twice, same", raw: rawReq("POST", "/", "hello", "Content-Length: 5", "Content-Length: 5")},
	{name: "chunked", raw: rawChunked("/", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")},
	{name: "chunked upper-case hex", raw: rawChunked("/", "A\r\n0123456789\r\n0\r\n\r\n")},
	{name: "chunked extension", raw: rawChunked("/", "5;foo=bar\r\nhello\r\n0;x\r\n\r\n")},
	{name: "chunked trailer", raw: rawChunked("/", "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n")},
	{name: "chunked empty", raw: rawChunked("/", "0\r\n\r\n")},
	{name: "chunked read(3)", raw: rawChunked("/", "4\r\none\n\r\n9\r\ntwo\nthree\r\n0\r\n\r\n", "X-Diffenv-Read: readn")},
	{name: "chunked readline", raw: rawChunked("/", "4\r\none\n\r\n9\r\ntwo\nthree\r\n0\r\n\r\n", "X-Diffenv-Read: readline")},
	{name: "chunked iteration", raw: rawChunked("/", "4\r\none\n\r\n9\r\ntwo\nthree\r\n0\r\n\r\n", "X-Diffenv-Read: iter")},
	{name: "chunked with Content-Length", raw: rawReq("POST", "/", "5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked", "Content-Length: 3")},
	{name: "Transfer-Encoding gzip, chunked", raw: rawReq("POST", "/", "5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: gzip, chunked")},
	{name: "Transfer-Encoding identity", raw: rawReq("POST", "/", "hello", "Transfer-Encoding: identity", "Content-Length: 5")},
	{name: "Content-Length plus sign", raw: rawReq("POST", "/", "hello", "Content-Length: +5")},
	{name: "Content-Length negative", raw: rawReq("POST", "/", "hello", "Content-Length: -5")},
	{name: "Content-Length list", raw: rawReq("POST", "/", "hello", "Content-Length: 5, 5")},
	{name: "chunk size with leading zeros", raw: rawChunked("/", "0005\r\nhello\r\n0\r\n\r\n")},
	{name: "bad chunk size", raw: rawChunked("/", "zz\r\nhello\r\n0\r\n\r\n")},
	{name: "chunked on HTTP/1.0", raw: "POST / HTTP/1.0\r\nHost: diffenv.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{name: "Expect 100-continue", raw: rawPost("/", "hello", "Expect: 100-continue")},
	{name: "Expect 100-continue chunked", raw: rawChunked("/", "5\r\nhello\r\n0\r\n\r\n", "Expect: 100-continue")},
	{name: "Expect 100-continue on GET", raw: rawGet("/", "Expect: 100-continue")},
	{name: "Expect 100-continue pipelined", n: 2, raw: rawPost("/one", "hello", "Expect: 100-continue") + rawGet("/two")},
	{name: "Expect 100-continue chunked with a trailer, pipelined", n: 2,
		raw: rawChunked("/one", "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", "Expect: 100-continue", "Trailer: X-Trailer") + rawGet("/two")},
	{name: "chunked with a Trailer field", raw: rawChunked("/", "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", "Trailer: X-Trailer")},
	{name: "query at the limit", raw: rawGet("/q?" + strings.Repeat("q", 4094-len("GET /q? HTTP/1.1")))},
	{name: "query over the limit", raw: rawGet("/q?" + strings.Repeat("q", 4095-len("GET /q? HTTP/1.1")))},
	{name: "absolute form with an escaped slash", raw: rawGet("http://other.test/p%2Fq?x=%2F")},
	{name: "absolute form with an IPv6 host", raw: rawGet("http://[::1]:8080/x")},
}

// diffenvBig is a body of n bytes in lines of different lengths, over
// the 64 KiB graft passes in memory (BodyBuffer): the worker reads it
// from a file.
func diffenvBig(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d %s\n", i, strings.Repeat("x", i%97))
	}
	return b.String()[:n]
}

// diffenvLongFields is n distinct header lines of size bytes each.
func diffenvLongFields(n, size int) []string {
	var hs []string
	for i := range n {
		name := fmt.Sprintf("X-Long-%d: ", i)
		hs = append(hs, name+strings.Repeat("v", size-len(name)))
	}
	return hs
}

// diffenvManyFields is n distinct header lines.
func diffenvManyFields(n int) []string {
	var hs []string
	for i := range n {
		hs = append(hs, fmt.Sprintf("X-Field-%d: %d", i, i))
	}
	return hs
}

// diffenvMountCorpus runs with SCRIPT_NAME=/app in the environment of
// both servers (gunicorn's way to serve under a prefix, which wsgiserve
// takes as its -script-name default).
var diffenvMountCorpus = []diffenvCase{
	{name: "under the mount", raw: rawGet("/app/x?y=1")},
	{name: "the mount itself", raw: rawGet("/app")},
	{name: "the mount with a slash", raw: rawGet("/app/")},
	{name: "outside the mount", raw: rawGet("/other")},
	{name: "the mount as a name's start", raw: rawGet("/application")},
	{name: "escaped under the mount", raw: rawGet("/app/a%2Fb")},
	{name: "escaped mount", raw: rawGet("/%61pp/x")},
	{name: "mount repeated", raw: rawGet("/app/app/x")},
	{name: "root", raw: rawGet("/")},
}

// diffenvUnixCorpus runs with both servers on a Unix socket, as behind
// nginx on the same host.
var diffenvUnixCorpus = []diffenvCase{
	{name: "plain", raw: rawGet("/a?b")},
	{name: "HTTP/1.0 without Host", raw: "GET / HTTP/1.0\r\n\r\n"},
	{name: "X-Forwarded-For", raw: rawGet("/", "X-Forwarded-For: 10.1.2.3", "X-Forwarded-Proto: https")},
	{name: "POST", raw: rawPost("/", "body")},
}

// diffenvProcessesCorpus runs with 2 worker processes of one thread each
// (wsgi.multiprocess, wsgi.multithread).
var diffenvProcessesCorpus = []diffenvCase{
	{name: "GET", raw: rawGet("/")},
}

// diffenvTLSCorpus runs with both servers serving TLS (HTTP/1.1).
var diffenvTLSCorpus = []diffenvCase{
	{name: "GET", raw: rawGet("/a?b")},
	{name: "HTTP/1.0 without Host", raw: "GET / HTTP/1.0\r\n\r\n"},
	{name: "Host without port", raw: "GET / HTTP/1.1\r\nHost: diffenv.test\r\nX-Forwarded-Proto: http\r\n\r\n"},
}

// diffenvTrustedCorpus runs with the test's address, 127.0.0.1, a trusted
// proxy of both servers (-forwarded-allow-ips, gunicorn's default).
var diffenvTrustedCorpus = []diffenvCase{
	{name: "none", raw: rawGet("/")},
	{name: "X-Forwarded-Proto https", raw: rawGet("/", "X-Forwarded-Proto: https")},
	{name: "X-Forwarded-Proto http", raw: rawGet("/", "X-Forwarded-Proto: http")},
	{name: "X-Forwarded-Proto HTTPS", raw: rawGet("/", "X-Forwarded-Proto: HTTPS")},
	{name: "X-Forwarded-Proto list", raw: rawGet("/", "X-Forwarded-Proto: http, https")},
	{name: "X-Forwarded-Ssl on", raw: rawGet("/", "X-Forwarded-Ssl: on")},
	{name: "X-Forwarded-Ssl yes", raw: rawGet("/", "X-Forwarded-Ssl: yes")},
	{name: "X-Forwarded-Protocol ssl", raw: rawGet("/", "X-Forwarded-Protocol: ssl")},
	{name: "contradicting", raw: rawGet("/", "X-Forwarded-Proto: https", "X-Forwarded-Ssl: off")},
	{name: "X-Forwarded-For", raw: rawGet("/", "X-Forwarded-For: 10.1.2.3, 10.4.5.6")},
	{name: "X-Forwarded-Host", raw: rawGet("/", "X-Forwarded-Host: front.test")},
}

// diffenvProxyLine is the PROXY protocol v1 header of a load balancer
// passing on a client at 203.0.113.7.
const diffenvProxyLine = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\n"

// diffenvProxyCorpus runs with the test's address, 127.0.0.1, a load
// balancer of both servers that sends the PROXY protocol (wsgiserve
// -proxy-protocol, gunicorn --proxy-protocol --proxy-allow-from).
var diffenvProxyCorpus = []diffenvCase{
	{name: "v1 TCP4", raw: diffenvProxyLine + rawGet("/a?b")},
	{name: "v1 TCP6", raw: "PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n" + rawGet("/")},
	{name: "v1 UNKNOWN", raw: "PROXY UNKNOWN\r\n" + rawGet("/")},
	// v2: the signature, PROXY over TCP4, 12 bytes of addresses: 203.0.113.7:56324 to 10.0.0.1:80.
	{name: "v2 TCP4", raw: "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x07\x0a\x00\x00\x01\xdc\x04\x00\x50" + rawGet("/")},
	{name: "v1 and X-Forwarded-For", raw: diffenvProxyLine + rawGet("/", "X-Forwarded-For: 10.9.9.9", "X-Forwarded-Proto: https")},
	{name: "v1 pipelined", n: 2, raw: diffenvProxyLine + rawGet("/one") + rawGet("/two")},
	{name: "no header", raw: rawGet("/")},
	{name: "malformed header", raw: "PROXY TCP4 203.0.113.7 10.0.0.1 56324\r\n" + rawGet("/")},
}

// diffenvProxyTLSCorpus runs with the test's address a load balancer of
// both servers that sends the PROXY protocol, and both serving TLS
// (wsgiserve -proxy-protocol -certfile, gunicorn --proxy-protocol
// --certfile): the header in the clear before the handshake, as HAProxy's
// send-proxy and AWS's NLB send it, or inside TLS, where gunicorn 20 reads
// it.
var diffenvProxyTLSCorpus = []diffenvCase{
	{name: "v1 TCP4 before TLS", clear: diffenvProxyLine, raw: rawGet("/a?b")},
	{name: "v1 TCP6 before TLS", clear: "PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n", raw: rawGet("/")},
	{name: "v2 TCP4 before TLS", clear: "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x07\x0a\x00\x00\x01\xdc\x04\x01\xbb", raw: rawGet("/")},
	{name: "v1 UNKNOWN before TLS", clear: "PROXY UNKNOWN\r\n", raw: rawGet("/")},
	{name: "v1 and X-Forwarded-Proto http before TLS", clear: diffenvProxyLine, raw: rawGet("/", "X-Forwarded-Proto: http")},
	{name: "v1 TCP4 inside TLS", raw: diffenvProxyLine + rawGet("/a?b")},
	{name: "no header", raw: rawGet("/")},
}

// diffenvResult is what one server did with a case.
type diffenvResult struct {
	responses []diffenvResponse
	err       string // the exchange failed (not an HTTP error status)
}

// diffenvResponse is one response as the comparison sees it.
type diffenvResponse struct {
	status      int
	continue100 bool           // a 100 Continue came before it
	close       bool           // the response says the connection closes
	environ     map[string]any // the app's answer, for a 200
}

// roundTrip writes c.raw to addr and reads c's responses, waiting for
// them up to 2 minutes.
func roundTrip(addr string, c diffenvCase) diffenvResult {
	return roundTripWithin(addr, c, 2*time.Minute)
}

// roundTripWithin is roundTrip waiting up to wait for the responses.
func roundTripWithin(addr string, c diffenvCase, wait time.Duration) diffenvResult {
	conn, err := dialDiffClear(addr, c.clear)
	if err != nil {
		return diffenvResult{err: errClass(err)}
	}
	defer conn.Close()
	// A deadline only so that a server that hangs fails the test instead
	// of holding it; nothing is decided by it.
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(conn, c.raw); err != nil {
		return diffenvResult{err: err.Error()}
	}
	br := bufio.NewReader(conn)
	var res diffenvResult
	for range max(c.n, 1) {
		var r diffenvResponse
		var resp *http.Response
		for {
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				res.err = fmt.Sprintf("response %d: %v", len(res.responses)+1, errClass(err))
				return res
			}
			if resp.StatusCode != http.StatusContinue {
				break
			}
			r.continue100 = true
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			res.err = fmt.Sprintf("response %d body: %v", len(res.responses)+1, errClass(err))
			return res
		}
		r.status, r.close = resp.StatusCode, resp.Close
		if resp.StatusCode == http.StatusOK && len(body) > 0 {
			if err := json.Unmarshal(body, &r.environ); err != nil {
				res.err = fmt.Sprintf("response %d: %v: %q", len(res.responses)+1, err, body)
				return res
			}
		}
		res.responses = append(res.responses, r)
		if r.close {
			break
		}
	}
	return res
}

// dialDiff connects to addr: "unix:/path", "tls:host:port" (HTTP/1.1
// only, as gunicorn has no HTTP/2; the test's own certificate is not
// checked) or host:port.
func dialDiff(addr string) (net.Conn, error) { return dialDiffClear(addr, "") }

// dialDiffClear is dialDiff writing clear on the connection first, before
// the TLS handshake on a "tls:" address.
func dialDiffClear(addr, clear string) (net.Conn, error) {
	if hostPort, ok := strings.CutPrefix(addr, "tls:"); ok && clear != "" {
		c, err := net.Dial("tcp", hostPort)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := io.WriteString(c, clear); err != nil {
			c.Close()
			return nil, err
		}
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c.SetDeadline(time.Time{})
		return tc, nil
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return net.Dial("unix", path)
	}
	if hostPort, ok := strings.CutPrefix(addr, "tls:"); ok {
		return tls.Dial("tcp", hostPort, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	}
	return net.Dial("tcp", addr)
}

// errClass is a read error as the comparison sees it.
func errClass(err error) string {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "closed"
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return "reset"
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// normaliseEnv removes from env what differs between the two servers by
// nature, and writes the server's own address addr (a Unix socket's
// path) as "ADDR" and its port as "PORT".
func normaliseEnv(env map[string]any, addr string) {
	addr = strings.TrimPrefix(addr, "tls:")
	_, port, _ := net.SplitHostPort(addr)
	graftID, hasID := env["graft.request_id"]
	if !hasID {
		graftID = struct{}{} // equal to no header value
	}
	for k, v := range env {
		switch {
		case k == "SERVER_SOFTWARE", // "gunicorn/20.1.0", "graft"
			k == "REMOTE_PORT",                // the client's ephemeral port
			k == "REQUEST_URI",                // graft's (uWSGI's) copy of RAW_URI, which is compared
			strings.HasPrefix(k, "graft."),    // graft.worker_pid
			strings.HasPrefix(k, "gunicorn."), // gunicorn.socket is no plain value anyway
			strings.HasPrefix(k, "uwsgi."):    // uwsgi.core, uwsgi.version, uwsgi.node
			delete(env, k)
			continue
		}
		if s, ok := v.(string); ok {
			s = strings.ReplaceAll(s, strings.TrimPrefix(addr, "unix:"), "ADDR")
			if port != "" && s == port {
				s = "PORT"
			}
			env[k] = s
		}
	}
	// X-Request-ID: graft's request-id middleware (on with the access log,
	// as by default) sets the header to its id, replacing a client's
	// (docs/middleware.md, Request ids); the app sees it as graft.request_id
	// too, which must agree.
	if id, ok := env["HTTP_X_REQUEST_ID"]; ok && id == graftID {
		delete(env, "HTTP_X_REQUEST_ID")
	}
	// SERVER_NAME and SERVER_PORT: graft takes them from Host (docs/wsgi.md),
	// gunicorn from the listening socket. Apps read HTTP_HOST when there is
	// one (werkzeug's get_host, Django's get_host); the two are compared
	// only without it, where apps fall back on them.
	if h, _ := env["HTTP_HOST"].(string); h != "" {
		delete(env, "SERVER_NAME")
		delete(env, "SERVER_PORT")
	}
}

// differences lists what differs between graft's result g and gunicorn's
// u: peerDifferences with peer "gunicorn".
func differences(g, u diffenvResult) map[string]string { return peerDifferences("gunicorn", g, u) }

// peerDifferences lists what differs between graft's result g and the
// result u of the server named peer, by what differs ("status", "100-continue", "close", "error",
// "responses" or an environ key, "#2 " before those of a second
// response), each with both values. The environs are compared only when
// both servers answered 200.
func peerDifferences(peer string, g, u diffenvResult) map[string]string {
	d := map[string]string{}
	if g.err != u.err {
		d["error"] = fmt.Sprintf("graft %q, %s %q", g.err, peer, u.err)
	}
	if len(g.responses) != len(u.responses) {
		d["responses"] = fmt.Sprintf("graft %d, %s %d", len(g.responses), peer, len(u.responses))
	}
	for i := range min(len(g.responses), len(u.responses)) {
		gr, ur := g.responses[i], u.responses[i]
		p := ""
		if i > 0 {
			p = fmt.Sprintf("#%d ", i+1)
		}
		if gr.status != ur.status {
			d[p+"status"] = fmt.Sprintf("graft %d, %s %d", gr.status, peer, ur.status)
			continue
		}
		if gr.continue100 != ur.continue100 {
			d[p+"100-continue"] = fmt.Sprintf("graft %v, %s %v", gr.continue100, peer, ur.continue100)
		}
		if gr.close != ur.close {
			d[p+"close"] = fmt.Sprintf("graft %v, %s %v", gr.close, peer, ur.close)
		}
		if (gr.environ == nil) != (ur.environ == nil) {
			d[p+"app"] = fmt.Sprintf("graft ran it %v, %s %v", gr.environ != nil, peer, ur.environ != nil)
			continue
		}
		for k := range keysOf(gr.environ, ur.environ) {
			gv, gok := gr.environ[k]
			uv, uok := ur.environ[k]
			if gs, us := show(gv, gok), show(uv, uok); gs != us {
				d[p+k] = fmt.Sprintf("graft %s, %s %s", gs, peer, us)
			}
		}
	}
	return d
}

// keysOf is the set of the keys of a and b.
func keysOf(a, b map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// show is a value of the app's answer as a difference prints it.
func show(v any, ok bool) string {
	if !ok {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// diffenvRun is one pair of servers and the corpus sent to both.
type diffenvRun struct {
	name    string
	corpus  []diffenvCase
	env     []string // added to both servers' environment
	workers int      // 1 when 0
	threads int      // 2 when 0; 1 is gunicorn's sync worker, more its gthread one (docs/operations.md)
	unix    bool     // on a Unix socket
	tls     bool     // serving TLS
	trusted bool     // the test's address, 127.0.0.1, is a trusted proxy
	proxy   bool     // the test's address is a load balancer sending the PROXY protocol
	// proxyInTLS: gunicorn reads the PROXY header inside TLS (gunicorn 20
	// wraps the socket in TLS before it reads anything), so a case's
	// clear bytes go to it after the handshake, before raw.
	proxyInTLS bool
}

var diffenvRuns = []diffenvRun{
	{name: "root", corpus: diffenvCorpus},
	{name: "SCRIPT_NAME", corpus: diffenvMountCorpus, env: []string{"SCRIPT_NAME=/app"}},
	{name: "unix", corpus: diffenvUnixCorpus, unix: true},
	{name: "processes", corpus: diffenvProcessesCorpus, workers: 2, threads: 1},
	{name: "tls", corpus: diffenvTLSCorpus, tls: true},
	{name: "trusted", corpus: diffenvTrustedCorpus, trusted: true},
	{name: "proxy", corpus: diffenvProxyCorpus, proxy: true},
	{name: "proxy tls", corpus: diffenvProxyTLSCorpus, tls: true, proxy: true, proxyInTLS: true},
}

// listen opens the listener a server of run is handed as fd 3 and
// returns it with its address ("unix:/path" for a Unix socket).
func (run diffenvRun) listen(t *testing.T, name string) (*os.File, string) {
	t.Helper()
	var ln interface {
		File() (*os.File, error)
		Close() error
	}
	var addr string
	if run.unix {
		path := filepath.Join(t.TempDir(), name+".sock")
		uln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		uln.SetUnlinkOnClose(false)
		ln, addr = uln, "unix:"+path
	} else {
		tln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ln, addr = tln, tln.Addr().String()
	}
	f, err := ln.File()
	ln.Close() // f keeps the socket listening
	if err != nil {
		t.Fatal(err)
	}
	return f, addr
}

// startGunicorn runs gunicorn as run says on the app in dir and returns
// its address ("unix:/path" on a Unix socket, "tls:host:port" over TLS).
// gunicorn's forwarded_allow_ips is nobody the test connects from unless
// run.trusted (gunicorn trusts 127.0.0.1 by default, graft nobody).
func (run diffenvRun) startGunicorn(t *testing.T, dir, cert, key string) string {
	t.Helper()
	f, addr := run.listen(t, "gunicorn")
	class := "gthread" // which says wsgi.multithread even with one thread
	if run.threads == 1 {
		class = "sync"
	}
	allow := "192.0.2.1"
	if run.trusted {
		allow = "127.0.0.1"
	}
	args := []string{"--worker-class", class, "--workers", strconv.Itoa(cmp.Or(run.workers, 1)),
		"--threads", strconv.Itoa(cmp.Or(run.threads, 2)), "--forwarded-allow-ips", allow}
	if run.tls {
		args = append(args, "--certfile", cert, "--keyfile", key)
		addr = "tls:" + addr
	}
	if run.proxy {
		args = append(args, "--proxy-protocol", "--proxy-allow-from", "127.0.0.1")
	}
	pythontest.GunicornOn(t, f, run.env, dir, "diffenv_app:app", args...)
	return addr
}

// startGraft runs wsgiserve (the binary bin) as run says on the app in
// dir, with its default access log and request ids, and returns its
// address as startGunicorn does.
func (run diffenvRun) startGraft(t *testing.T, bin, dir, cert, key string) string {
	t.Helper()
	bind := "127.0.0.1:0"
	if run.unix {
		bind = "unix:" + filepath.Join(t.TempDir(), "graft.sock")
	}
	cmd := exec.Command(bin, "-bind", bind, "-python", pythontest.Python(t), "-chdir", dir,
		"-workers", strconv.Itoa(cmp.Or(run.workers, 1)), "-threads", strconv.Itoa(cmp.Or(run.threads, 2)))
	if run.trusted {
		cmd.Args = append(cmd.Args, "-forwarded-allow-ips", "127.0.0.1")
	}
	if run.tls {
		cmd.Args = append(cmd.Args, "-certfile", cert, "-keyfile", key)
	}
	if run.proxy {
		cmd.Args = append(cmd.Args, "-proxy-protocol", "127.0.0.1")
	}
	cmd.Args = append(cmd.Args, "diffenv_app:app")
	cmd.Env = append(os.Environ(), run.env...)
	u := startCmd(t, cmd, false).url
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "tls:" + rest
	}
	return strings.TrimPrefix(u, "http://")
}

// TestDiffEnvGunicorn sends each run's corpus to wsgiserve and to gunicorn
// and fails on any difference not in diffenvKnown, and on a listed one
// that is no more.
func TestDiffEnvGunicorn(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	bin := opstest.Build(t, "wsgiserve")
	cert, key, _ := testcert.Write(t, t.TempDir(), 1)
	cases := map[string]bool{}
	for _, run := range diffenvRuns {
		for _, c := range run.corpus {
			name := run.name + "/" + c.name
			if cases[name] {
				t.Fatalf("two cases named %q", name)
			}
			cases[name] = true
		}
	}
	for name := range diffenvKnown {
		if !cases[name] {
			t.Errorf("diffenvKnown lists %q, which is no case", name)
		}
	}
	for _, run := range diffenvRuns {
		t.Run(run.name, func(t *testing.T) {
			gunicorn := run.startGunicorn(t, dir, cert, key)
			graft := run.startGraft(t, bin, dir, cert, key)
			for _, c := range run.corpus {
				t.Run(c.name, func(t *testing.T) {
					if c.graftOnly != 0 {
						g := roundTrip(graft, c)
						if g.err != "" || len(g.responses) != 1 || g.responses[0].status != c.graftOnly {
							t.Errorf("graft: %+v; want one response %d", g, c.graftOnly)
						}
						return
					}
					uc := c
					if run.proxyInTLS {
						uc.raw, uc.clear = c.clear+c.raw, ""
					}
					g, u := roundTrip(graft, c), roundTrip(gunicorn, uc)
					for _, r := range g.responses {
						normaliseEnv(r.environ, graft)
					}
					for _, r := range u.responses {
						normaliseEnv(r.environ, gunicorn)
					}
					got := differences(g, u)
					want := diffenvKnown[run.name+"/"+c.name].diffs
					for _, k := range slices.Sorted(maps.Keys(got)) {
						if want[k] != got[k] {
							t.Errorf("new difference: %s: %s", k, got[k])
						}
					}
					for _, k := range slices.Sorted(maps.Keys(want)) {
						if _, ok := got[k]; !ok {
							t.Errorf("listed difference gone (remove it from diffenvKnown): %s: %s", k, want[k])
						}
					}
				})
			}
		})
	}
}

// diffenvKnownCase is a decided difference: what differs, and why.
type diffenvKnownCase struct {
	why   string
	diffs map[string]string
}

// Reasons shared by several entries of diffenvKnown.
const (
	whyGuard = "graft refuses the request at the HTTP boundary (wsgi.Guard, docs/operations.md, " +
		"Request checks at the HTTP boundary): a proxy in front may read it otherwise; gunicorn 20 serves it"
	whyLimits = "the request limits' own statuses, 414 and 431 (docs/operations.md); gunicorn answers 400"
	whyHop    = "hop-by-hop fields (Connection and the fields it names, Keep-Alive, TE, Trailer, Transfer-Encoding, " +
		"Upgrade, Expect) are Go's: the app never sees them (docs/wsgi.md, What the app sees)"
	whyChunked = "a chunked body reaches the app with the CONTENT_LENGTH Go read and no Transfer-Encoding " +
		"(docs/wsgi.md): a PEP 3333 app that reads CONTENT_LENGTH (Django) sees the body, which under gunicorn it does not"
	whyLength = "CONTENT_LENGTH is the length of the body graft passes: \"0\" for a request without one but a GET or " +
		"HEAD, none for those, digits without leading zeros; gunicorn copies the header. Apps read a missing " +
		"CONTENT_LENGTH as 0 alike (docs/wsgi.md)"
	whyForwarded = "a client's forwarding headers are removed, whoever is trusted (docs/operations.md, Behind a " +
		"front proxy): an app's ProxyFix cannot be fooled by them; gunicorn passes them on"
	whyHTTPS = "over TLS graft sets the CGI variable HTTPS=on besides wsgi.url_scheme https (docs/wsgi.md), " +
		"for apps that read it; gunicorn sets wsgi.url_scheme only"
	whyTrusted = "graft removes the forwarding headers once it has read them, from a trusted proxy too, and " +
		"gives the app their meaning as REMOTE_ADDR and wsgi.url_scheme (docs/operations.md, Coming from " +
		"gunicorn: forwarded_allow_ips); gunicorn passes them on"
	whyProxyAddr = "gunicorn adds PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT (the address the client reached " +
		"the load balancer on) to the environ, an extension of its own; graft gives the client's address as " +
		"REMOTE_ADDR and REMOTE_PORT, as gunicorn does, and leaves the load balancer's out (docs/operations.md, " +
		"Behind a front proxy)"
	whyProxyRequired = "a connection from a -proxy-protocol address must begin with a valid PROXY header (the " +
		"protocol's spec: a receiver must not guess whether one is there): graft closes it without an answer " +
		"and logs WARN (docs/operations.md, Behind a front proxy), since the load balancer and graft disagree"
	whyMount = "graft serves a path outside the SCRIPT_NAME prefix with SCRIPT_NAME \"\" (docs/operations.md, -script-name); " +
		"gunicorn 20 answers 500"
)

// diffenvKnown are the differences decided on, by run and case name:
// each is deliberate (and documented) or harmless. Any other difference
// fails TestDiffEnvGunicorn, and so does an entry here that no longer
// differs.
var diffenvKnown = map[string]diffenvKnownCase{
	// The request target.
	"root/raw UTF-8 in the target": {"gunicorn 20 passes the raw bytes of the request line decoded as UTF-8 and " +
		"encoded again (Ã©, four code points, for é); graft passes the bytes as latin-1 code points, as PEP 3333 " +
		"says and as for %C3%A9 (waitress refuses the request: 400)", map[string]string{
		"PATH_INFO": "graft \"/caf\u00c3\u00a9\", gunicorn \"/caf\u00c3\u0083\u00c2\u00a9\"",
	}},
	"root/absolute form": {"HTTP_HOST is the target's authority, which replaces the Host field (RFC 9112 §3.2.2; " +
		"docs/wsgi.md, Request targets); gunicorn keeps the Host field", map[string]string{
		"HTTP_HOST": `graft "other.test", gunicorn "diffenv.test"`,
	}},
	"root/absolute form with port": {"as absolute form", map[string]string{
		"HTTP_HOST": `graft "other.test:8080", gunicorn "diffenv.test"`,
	}},
	"root/absolute form https": {"as absolute form", map[string]string{
		"HTTP_HOST": `graft "other.test", gunicorn "diffenv.test"`,
	}},
	"root/fragment": {"the fragment is cut from the target before every key is built (docs/wsgi.md, Request " +
		"targets); gunicorn 20 cuts it from PATH_INFO and QUERY_STRING but keeps it in RAW_URI", map[string]string{
		"RAW_URI": `graft "/q", gunicorn "/q#frag"`,
	}},
	"root/query and fragment": {"as fragment", map[string]string{
		"RAW_URI": `graft "/q?x=1", gunicorn "/q?x=1#frag"`,
	}},
	"root/malformed escape in the path": {whyGuard + " (docs/wsgi.md: PATH_INFO)", map[string]string{
		"status": "graft 400, gunicorn 200",
	}},
	"root/request line too long":       {whyLimits, map[string]string{"status": "graft 414, gunicorn 400"}},
	"root/request line over the limit": {whyLimits, map[string]string{"status": "graft 414, gunicorn 400"}},
	"root/101 fields":                  {whyLimits, map[string]string{"status": "graft 431, gunicorn 400"}},
	"root/field line over the limit":   {whyLimits, map[string]string{"status": "graft 431, gunicorn 400"}},
	"root/field line at the limit": {"FieldSize counts a field line without its CRLF (docs/operations.md: " +
		"-limit-request-field-size, the longest field line); gunicorn counts the CRLF too, so the same number " +
		"lets graft take 2 bytes more: harmless", map[string]string{"status": "graft 200, gunicorn 400"}},
	"root/head over 64 KiB": {"a head over Limits.Head (64 KiB by default) in all is answered 431; gunicorn has " +
		"no total (docs/operations.md, Coming from gunicorn)", map[string]string{"status": "graft 431, gunicorn 200"}},
	"root/too many fields":     {whyLimits, map[string]string{"status": "graft 431, gunicorn 400"}},
	"root/field line too long": {whyLimits, map[string]string{"status": "graft 431, gunicorn 400"}},
	"root/lower-case method": {"400 (wsgi.ErrBadMethod, docs/wsgi.md), as gunicorn ≥ 22 answers; gunicorn 20 " +
		"upper-cases the method and serves it as GET, after a Go route had not matched it", map[string]string{
		"status": "graft 400, gunicorn 200",
	}},
	"root/HTTP/2.0 in the request line": {"505 (docs/operations.md): HTTP/2 is not a text request line; gunicorn 20 " +
		"serves it as HTTP/1.1 with SERVER_PROTOCOL HTTP/2.0", map[string]string{
		"status": "graft 505, gunicorn 200",
	}},
	"root/empty lines before the request": {"empty lines before a request line are skipped, as RFC 9112 §2.2 asks; " +
		"gunicorn answers 400", map[string]string{
		"status": "graft 200, gunicorn 400",
	}},
	"root/OPTIONS asterisk": {"net/http answers OPTIONS * itself (200, no body) without calling the app " +
		"(docs/wsgi.md, Request targets)", map[string]string{
		"app": "graft ran it false, gunicorn true",
	}},
	"root/custom method":         {whyLength, map[string]string{"CONTENT_LENGTH": `graft "0", gunicorn (absent)`}},
	"root/POST without a body":   {whyLength, map[string]string{"CONTENT_LENGTH": `graft "0", gunicorn (absent)`}},
	"root/DELETE without a body": {whyLength, map[string]string{"CONTENT_LENGTH": `graft "0", gunicorn (absent)`}},
	"root/Content-Length header on GET without body": {whyLength, map[string]string{
		"CONTENT_LENGTH": `graft (absent), gunicorn "0"`,
	}},
	"root/Content-Length leading zeros": {whyLength, map[string]string{
		"CONTENT_LENGTH": `graft "5", gunicorn "005"`,
	}},

	// Header fields.
	"root/two Cookie": {"Cookie fields are joined with \"; \" (RFC 9113 §8.2.3, RFC 6265 §5.4; docs/wsgi.md): " +
		"gunicorn 20's \",\" makes werkzeug and Django read a=1,b=2 as one cookie a with the value \"1,b=2\"", map[string]string{
		"HTTP_COOKIE": `graft "a=1; b=2", gunicorn "a=1,b=2"`,
	}},
	"root/underscore": {"fields with _ in their name are dropped: X_Foo would pass for X-Foo (docs/wsgi.md), " +
		"as gunicorn ≥ 22 and nginx do; gunicorn 20 passes them", map[string]string{
		"HTTP_X_FOO": `graft (absent), gunicorn "under"`,
	}},
	"root/underscore and dash": {"as underscore", map[string]string{
		"HTTP_X_FOO": `graft "dash", gunicorn "dash,under"`,
	}},
	"root/obs-fold":                  {whyGuard, map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/control byte in the value": {whyGuard, map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/spaces around the value": {"spaces at a value's edges are not part of it (RFC 9110 §5.5; docs/wsgi.md), " +
		"as waitress trims them too; gunicorn 20 keeps the trailing ones", map[string]string{
		"HTTP_X_SP": `graft "v  w", gunicorn "v  w   "`,
	}},
	"root/Proxy header": {"Proxy is dropped (httpoxy: HTTP_PROXY would pass for the proxy setting of the app's " +
		"HTTP client; docs/wsgi.md)", map[string]string{
		"HTTP_PROXY": `graft (absent), gunicorn "http://evil.test"`,
	}},
	"root/Connection names a header": {whyHop, map[string]string{
		"HTTP_CONNECTION": `graft (absent), gunicorn "X-Hop"`,
		"HTTP_X_HOP":      `graft (absent), gunicorn "1"`,
	}},
	"root/TE trailers": {whyHop, map[string]string{"HTTP_TE": `graft (absent), gunicorn "trailers"`}},
	"root/Upgrade": {whyHop, map[string]string{
		"HTTP_CONNECTION": `graft (absent), gunicorn "Upgrade"`,
		"HTTP_UPGRADE":    `graft (absent), gunicorn "websocket"`,
	}},
	"root/HTTP/1.1 Connection close": {whyHop, map[string]string{
		"HTTP_CONNECTION": `graft (absent), gunicorn "close"`,
	}},

	// Host.
	"root/Host with a bad port":  {whyGuard, map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/Host with a path":      {whyGuard, map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/HTTP/1.1 without Host": {whyGuard + " (RFC 9112 §3.2: MUST)", map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/two Host":              {whyGuard + " (RFC 9112 §3.2: MUST)", map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/HTTP/1.0 keep-alive": {whyHop + "; gunicorn's gthread worker does not answer a request that came " +
		"in the same read as the one before (it waits for the socket to be readable, then closes the idle " +
		"connection after its keepalive); graft answers it", map[string]string{
		"HTTP_CONNECTION": `graft (absent), gunicorn "keep-alive"`,
		"error":           `graft "", gunicorn "response 2: closed"`,
		"responses":       "graft 2, gunicorn 1",
	}},
	"root/HTTP/1.1 pipelined": {"gunicorn's gthread worker does not answer a pipelined request (see HTTP/1.0 " +
		"keep-alive); graft answers it", map[string]string{
		"error":     `graft "", gunicorn "response 2: closed"`,
		"responses": "graft 2, gunicorn 1",
	}},

	// Forwarding headers from a peer nobody trusts.
	"root/X-Forwarded-For and Proto": {whyForwarded, map[string]string{
		"HTTP_X_FORWARDED_FOR":   `graft (absent), gunicorn "10.1.2.3"`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "https"`,
	}},
	"root/X-Forwarded-Host": {whyForwarded, map[string]string{
		"HTTP_X_FORWARDED_HOST": `graft (absent), gunicorn "evil.test"`,
		"HTTP_X_FORWARDED_PORT": `graft (absent), gunicorn "443"`,
	}},
	"root/X-Forwarded-Ssl": {whyForwarded, map[string]string{
		"HTTP_X_FORWARDED_SSL": `graft (absent), gunicorn "on"`,
	}},
	"root/Forwarded": {whyForwarded, map[string]string{
		"HTTP_FORWARDED": `graft (absent), gunicorn "for=10.1.2.3;proto=https;host=evil.test"`,
	}},

	// Bodies.
	"root/POST readlines(5)": {"wsgi.input's readlines(hint) stops once the lines read pass the hint, as io's " +
		"does; gunicorn ignores the hint, which PEP 3333 allows: an app cannot count on either", map[string]string{
		"body":   `graft "one\ntwo lines\n", gunicorn "one\ntwo lines\n\nlast without newline"`,
		"chunks": "graft [4,10], gunicorn [4,10,1,20]",
	}},
	"root/chunked": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "11", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunked upper-case hex": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "10", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunked extension": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "5", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunked trailer": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "5", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunked empty": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "0", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunked read(3)": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "13", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunked readline": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "13", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunked iteration": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "13", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/chunk size with leading zeros": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "5", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/Transfer-Encoding gzip, chunked": {whyGuard + ": 501 for a coding graft does not implement; gunicorn 500",
		map[string]string{"status": "graft 501, gunicorn 500"}},
	"root/Transfer-Encoding identity": {whyGuard, map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/Content-Length plus sign":   {whyGuard, map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/bad chunk size": {whyGuard + ": the body read fails before the app runs; under gunicorn the app " +
		"runs and its read raises InvalidChunkSize", map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/Expect 100-continue": {whyHop, map[string]string{
		"HTTP_EXPECT": `graft (absent), gunicorn "100-continue"`,
	}},
	"root/Expect 100-continue chunked": {whyHop + "; " + whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "5", gunicorn (absent)`,
		"HTTP_EXPECT":            `graft (absent), gunicorn "100-continue"`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/Expect 100-continue pipelined": {whyHop + "; gunicorn's gthread worker does not answer a pipelined " +
		"request (see HTTP/1.0 keep-alive); graft sends 100 Continue, answers the first and then the second", map[string]string{
		"HTTP_EXPECT": `graft (absent), gunicorn "100-continue"`,
		"error":       `graft "", gunicorn "response 2: closed"`,
		"responses":   "graft 2, gunicorn 1",
	}},
	"root/Expect 100-continue chunked with a trailer, pipelined": {whyHop + "; " + whyChunked + "; the trailer " +
		"fields are read and dropped (WSGI has no place for them); as Expect 100-continue pipelined", map[string]string{
		"CONTENT_LENGTH":         `graft "5", gunicorn (absent)`,
		"HTTP_EXPECT":            `graft (absent), gunicorn "100-continue"`,
		"HTTP_TRAILER":           `graft (absent), gunicorn "X-Trailer"`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
		"error":                  `graft "", gunicorn "response 2: closed"`,
		"responses":              "graft 2, gunicorn 1",
	}},
	"root/chunked with a Trailer field": {whyHop + "; " + whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "5", gunicorn (absent)`,
		"HTTP_TRAILER":           `graft (absent), gunicorn "X-Trailer"`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/query over the limit": {whyLimits + " (the query counts in the request line, as for gunicorn)",
		map[string]string{"status": "graft 414, gunicorn 400"}},
	"root/absolute form with an escaped slash": {"as absolute form; PATH_INFO is decoded (/p/q) and RAW_URI " +
		"and REQUEST_URI keep the target as sent, as gunicorn's", map[string]string{
		"HTTP_HOST": `graft "other.test", gunicorn "diffenv.test"`,
	}},
	"root/absolute form with an IPv6 host": {"as absolute form; SERVER_NAME is the literal without its brackets (::1), " +
		"SERVER_PORT its port", map[string]string{
		"HTTP_HOST": `graft "[::1]:8080", gunicorn "diffenv.test"`,
	}},
	"root/Expect 100-continue on GET": {whyHop + "; Go sends 100 Continue when the body is read, and a GET " +
		"without a body has none to read", map[string]string{
		"100-continue": "graft false, gunicorn true",
		"HTTP_EXPECT":  `graft (absent), gunicorn "100-continue"`,
	}},

	// Under SCRIPT_NAME=/app.
	"root/spooled chunked body": {whyChunked, map[string]string{
		"CONTENT_LENGTH":         `graft "100000", gunicorn (absent)`,
		"HTTP_TRANSFER_ENCODING": `graft (absent), gunicorn "chunked"`,
	}},
	"root/two Content-Type": {"two Content-Type fields are refused (wsgi.ErrBadHeader, docs/wsgi.md): joined, " +
		"Werkzeug read the first type, Django 3.2 neither; gunicorn passes the last", map[string]string{
		"status": "graft 400, gunicorn 200",
	}},
	"root/lower-case cookie": {"as two Cookie", map[string]string{
		"HTTP_COOKIE": `graft "a=1; b=2", gunicorn "a=1,b=2"`,
	}},
	"root/X-Request-ID from the client": {"a client's X-Request-ID is replaced by graft's request id, unless the " +
		"peer is a trusted proxy (docs/middleware.md, Request ids): the app and the access log see one id", map[string]string{
		"HTTP_X_REQUEST_ID": `graft (absent), gunicorn "client-id"`,
	}},
	"root/absolute form without Host": {whyGuard + " (RFC 9112 §3.2: Host is required on HTTP/1.1 " +
		"whatever the target's form)", map[string]string{"status": "graft 400, gunicorn 200"}},
	"root/absolute form on HTTP/1.0": {"as absolute form: HTTP_HOST (and SERVER_NAME, SERVER_PORT) from the " +
		"target's authority; gunicorn has no HTTP_HOST and the socket's address", map[string]string{
		"HTTP_HOST":   `graft "other.test", gunicorn (absent)`,
		"SERVER_NAME": `graft (absent), gunicorn "127.0.0.1"`,
		"SERVER_PORT": `graft (absent), gunicorn "PORT"`,
	}},
	"root/HTTP/1.0 POST without Content-Length": {whyLength, map[string]string{
		"CONTENT_LENGTH": `graft "0", gunicorn (absent)`,
	}},
	"root/two X-Forwarded-For": {whyForwarded, map[string]string{
		"HTTP_X_FORWARDED_FOR": `graft (absent), gunicorn "10.0.0.1,10.0.0.2"`,
	}},
	// Over TLS.
	"tls/GET":                   {whyHTTPS, map[string]string{"HTTPS": `graft "on", gunicorn (absent)`}},
	"tls/HTTP/1.0 without Host": {whyHTTPS, map[string]string{"HTTPS": `graft "on", gunicorn (absent)`}},
	"tls/Host without port": {whyHTTPS + "; " + whyForwarded, map[string]string{
		"HTTPS":                  `graft "on", gunicorn (absent)`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "http"`,
	}},

	// From a trusted proxy.
	"trusted/X-Forwarded-Proto https": {whyHTTPS + "; " + whyTrusted, map[string]string{
		"HTTPS":                  `graft "on", gunicorn (absent)`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "https"`,
	}},
	"trusted/X-Forwarded-Proto http": {whyTrusted, map[string]string{
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "http"`,
	}},
	"trusted/X-Forwarded-Proto HTTPS": {whyHTTPS + "; " + whyTrusted + "; graft reads the scheme without " +
		"regard to case and the rightmost of a list, where gunicorn says http", map[string]string{
		"HTTPS":                  `graft "on", gunicorn (absent)`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "HTTPS"`,
		"wsgi.url_scheme":        `graft "https", gunicorn "http"`,
	}},
	"trusted/X-Forwarded-Proto list": {"as X-Forwarded-Proto HTTPS", map[string]string{
		"HTTPS":                  `graft "on", gunicorn (absent)`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "http, https"`,
		"wsgi.url_scheme":        `graft "https", gunicorn "http"`,
	}},
	"trusted/X-Forwarded-Ssl on": {whyHTTPS + "; " + whyTrusted + " (gunicorn 20 does not pass " +
		"X-Forwarded-Ssl on either)", map[string]string{"HTTPS": `graft "on", gunicorn (absent)`}},
	"trusted/X-Forwarded-Protocol ssl": {whyHTTPS + "; " + whyTrusted + " (gunicorn 20 does not pass " +
		"X-Forwarded-Protocol on either)", map[string]string{"HTTPS": `graft "on", gunicorn (absent)`}},
	"trusted/contradicting": {"both answer 400 Contradictory scheme headers; graft keeps the connection, whose " +
		"framing was sound, gunicorn closes it", map[string]string{"close": "graft false, gunicorn true"}},
	"trusted/X-Forwarded-For": {whyTrusted + "; REMOTE_ADDR is the client the proxy names (the rightmost " +
		"address not trusted), where gunicorn 20 keeps the proxy's", map[string]string{
		"HTTP_X_FORWARDED_FOR": `graft (absent), gunicorn "10.1.2.3, 10.4.5.6"`,
		"REMOTE_ADDR":          `graft "10.4.5.6", gunicorn "127.0.0.1"`,
	}},
	"trusted/X-Forwarded-Host": {whyTrusted + "; the host is taken from it only with -forwarded-host", map[string]string{
		"HTTP_X_FORWARDED_HOST": `graft (absent), gunicorn "front.test"`,
	}},

	// From a load balancer sending the PROXY protocol.
	"proxy/v1 TCP4": {whyProxyAddr, map[string]string{
		"PROXY_ADDR":     `graft (absent), gunicorn "10.0.0.1"`,
		"PROXY_PORT":     `graft (absent), gunicorn "80"`,
		"PROXY_PROTOCOL": `graft (absent), gunicorn "TCP4"`,
	}},
	"proxy/v1 TCP6": {whyProxyAddr, map[string]string{
		"PROXY_ADDR":     `graft (absent), gunicorn "2001:db8::1"`,
		"PROXY_PORT":     `graft (absent), gunicorn "443"`,
		"PROXY_PROTOCOL": `graft (absent), gunicorn "TCP6"`,
	}},
	"proxy/v1 UNKNOWN": {"PROXY UNKNOWN (the load balancer's own connection: its health check) is served as " +
		"the load balancer's, as the PROXY protocol says (the receiver keeps the connection's addresses); " +
		"gunicorn 20 answers 400", map[string]string{"status": "graft 200, gunicorn 400"}},
	"proxy/v2 TCP4": {"the PROXY protocol's v2 (binary) header is read, as AWS's Network Load Balancer sends it; " +
		"gunicorn 20 reads v1 only and answers 400", map[string]string{"status": "graft 200, gunicorn 400"}},
	"proxy/v1 and X-Forwarded-For": {whyProxyAddr + "; " + whyForwarded, map[string]string{
		"HTTP_X_FORWARDED_FOR":   `graft (absent), gunicorn "10.9.9.9"`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "https"`,
		"PROXY_ADDR":             `graft (absent), gunicorn "10.0.0.1"`,
		"PROXY_PORT":             `graft (absent), gunicorn "80"`,
		"PROXY_PROTOCOL":         `graft (absent), gunicorn "TCP4"`,
	}},
	"proxy/v1 pipelined": {whyProxyAddr + "; gunicorn's gthread worker does not answer a pipelined request " +
		"(see root/HTTP/1.0 keep-alive)", map[string]string{
		"PROXY_ADDR":     `graft (absent), gunicorn "10.0.0.1"`,
		"PROXY_PORT":     `graft (absent), gunicorn "80"`,
		"PROXY_PROTOCOL": `graft (absent), gunicorn "TCP4"`,
		"error":          `graft "", gunicorn "response 2: closed"`,
		"responses":      "graft 2, gunicorn 1",
	}},
	"proxy/no header": {whyProxyRequired + "; gunicorn 20 serves it as the load balancer's", map[string]string{
		"error":     `graft "response 1: closed", gunicorn ""`,
		"responses": "graft 0, gunicorn 1",
	}},
	"proxy/malformed header": {whyProxyRequired + "; gunicorn 20 answers 400 (InvalidProxyLine)", map[string]string{
		"error":     `graft "response 1: closed", gunicorn ""`,
		"responses": "graft 0, gunicorn 1",
	}},

	// The PROXY protocol under TLS. Each server is sent the header where it reads it: graft in the clear
	// before the handshake, as HAProxy and AWS's NLB send it, gunicorn 20 inside TLS (proxyInTLS).
	// REMOTE_ADDR, REMOTE_PORT and wsgi.url_scheme agree.
	"proxy tls/v1 TCP4 before TLS": {whyHTTPS + "; " + whyProxyAddr, map[string]string{
		"HTTPS":          `graft "on", gunicorn (absent)`,
		"PROXY_ADDR":     `graft (absent), gunicorn "10.0.0.1"`,
		"PROXY_PORT":     `graft (absent), gunicorn "80"`,
		"PROXY_PROTOCOL": `graft (absent), gunicorn "TCP4"`,
	}},
	"proxy tls/v1 TCP6 before TLS": {whyHTTPS + "; " + whyProxyAddr, map[string]string{
		"HTTPS":          `graft "on", gunicorn (absent)`,
		"PROXY_ADDR":     `graft (absent), gunicorn "2001:db8::1"`,
		"PROXY_PORT":     `graft (absent), gunicorn "443"`,
		"PROXY_PROTOCOL": `graft (absent), gunicorn "TCP6"`,
	}},
	"proxy tls/v2 TCP4 before TLS": {"as proxy/v2 TCP4: gunicorn 20 reads v1 only", map[string]string{
		"status": "graft 200, gunicorn 400",
	}},
	"proxy tls/v1 UNKNOWN before TLS": {"as proxy/v1 UNKNOWN: served as the load balancer's; gunicorn 20 answers 400",
		map[string]string{"status": "graft 200, gunicorn 400"}},
	"proxy tls/v1 and X-Forwarded-Proto http before TLS": {whyHTTPS + "; " + whyProxyAddr + "; " + whyForwarded +
		" (the scheme stays https on both)", map[string]string{
		"HTTPS":                  `graft "on", gunicorn (absent)`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "http"`,
		"PROXY_ADDR":             `graft (absent), gunicorn "10.0.0.1"`,
		"PROXY_PORT":             `graft (absent), gunicorn "80"`,
		"PROXY_PROTOCOL":         `graft (absent), gunicorn "TCP4"`,
	}},
	"proxy tls/v1 TCP4 inside TLS": {whyProxyRequired + ": the header comes before the TLS handshake (HAProxy's " +
		"proxy-protocol.txt: the first bytes of the connection), so a TLS ClientHello is a malformed one; gunicorn 20 " +
		"reads it only inside TLS, so that it cannot stand behind HAProxy's send-proxy or an NLB with TLS passed through",
		map[string]string{
			"error":     `graft "reset", gunicorn ""`,
			"responses": "graft 0, gunicorn 1",
		}},
	"proxy tls/no header": {whyProxyRequired + "; gunicorn 20 serves it as the load balancer's", map[string]string{
		"error":     `graft "reset", gunicorn ""`,
		"responses": "graft 0, gunicorn 1",
	}},

	// Two processes of one thread.
	"processes/GET": {"gunicorn's sync worker closes every connection after its response (it has no " +
		"keep-alive); graft keeps it open", map[string]string{"close": "graft false, gunicorn true"}},

	// On a Unix socket. REMOTE_ADDR is gunicorn's "" (docs/wsgi.md, What the app sees).
	"unix/HTTP/1.0 without Host": {"without Host, SERVER_NAME and SERVER_PORT are localhost " +
		"and the scheme's port (docs/wsgi.md), which make a URL; gunicorn gives the socket's path and \"\"", map[string]string{
		"SERVER_NAME": `graft "localhost", gunicorn "ADDR"`,
		"SERVER_PORT": `graft "80", gunicorn ""`,
	}},
	"unix/X-Forwarded-For": {whyForwarded + ". gunicorn 20 takes the scheme from any " +
		"Unix socket peer whatever forwarded_allow_ips says; graft only with -forwarded-allow-ips unix", map[string]string{
		"HTTP_X_FORWARDED_FOR":   `graft (absent), gunicorn "10.1.2.3"`,
		"HTTP_X_FORWARDED_PROTO": `graft (absent), gunicorn "https"`,
		"wsgi.url_scheme":        `graft "http", gunicorn "https"`,
	}},
	"SCRIPT_NAME/outside the mount": {whyMount, map[string]string{"status": "graft 200, gunicorn 500"}},
	"SCRIPT_NAME/root":              {whyMount, map[string]string{"status": "graft 200, gunicorn 500"}},
	"SCRIPT_NAME/the mount as a name's start": {"the prefix matches whole segments: /application is outside " +
		"/app; gunicorn 20 splits it into /app and lication", map[string]string{
		"PATH_INFO":   `graft "/application", gunicorn "lication"`,
		"SCRIPT_NAME": `graft "", gunicorn "/app"`,
	}},
	"SCRIPT_NAME/escaped mount": {"the prefix is matched against the decoded path, as the router routes it " +
		"(docs/wsgi.md: SCRIPT_NAME); gunicorn 20 compares the raw path and answers 500", map[string]string{
		"status": "graft 200, gunicorn 500",
	}},
	"root/Host empty": {"an empty Host is no authority (RFC 9112 §3.2): graft leaves HTTP_HOST out, as for an " +
		"HTTP/1.0 request without Host (docs/wsgi.md); gunicorn and waitress pass \"\". PEP 3333's URL " +
		"reconstruction falls back on SERVER_NAME, the socket's address under both, either way", map[string]string{
		"HTTP_HOST": `graft (absent), gunicorn ""`,
	}},
}
