package wsgi

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// responseHeadFlaskApp sets n cookies of size bytes each, in a response
// of one piece (/cookies) or streamed from a generator (/stream).
const responseHeadFlaskApp = `from flask import Flask, Response, request
app = Flask(__name__)

def cookies(resp):
    n, size = int(request.args["n"]), int(request.args["size"])
    for i in range(n):
        resp.set_cookie("c%d" % i, "v" * size)
    return resp

@app.route("/cookies")
def whole():
    return cookies(Response("whole"))

@app.route("/stream")
def stream():
    return cookies(Response(iter([b"str", b"eam"])))
`

// TestResponseHeadLimitFlask serves a real Flask app through Serve over
// TLS, to HTTP/1.1 and HTTP/2 clients: a response whose head is within
// Config.MaxResponseHeadSize (the default, 64 KiB: 15 cookies of 4000
// bytes) reaches the client whole; a larger one (20 such cookies, in one
// piece or streamed) is answered 502 with none of the app's cookies, and
// logged with its size and the limit; with the limit off (negative) it is
// served. Before, every head was passed on, and curl's HTTP/2 gave up on
// one over about 128 KiB with nothing in graft's log.
func TestResponseHeadLimitFlask(t *testing.T) {
	py := pythontest.Python(t, "flask")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "headapp.py"), []byte(responseHeadFlaskApp), 0o644); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	tooLarge := regexp.MustCompile(`level=ERROR msg=.*error="wsgi: response head too large: (\d+) bytes \(2[12] header fields\), over MaxResponseHeadSize 65536"`)
	for _, tc := range []struct {
		name  string
		limit int // Config.MaxResponseHeadSize
	}{
		{"default limit", 0},
		{"no limit", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile})
			if err != nil {
				t.Fatal(err)
			}
			logs := &pythontest.Buffer{}
			app, err := New(Config{App: "headapp:app", Dir: dir, Python: py, Workers: 1, Threads: 2,
				MaxResponseHeadSize: tc.limit, Logger: slogNew(logs)})
			if err != nil {
				ls.Close()
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, ls, app, app, ServeConfig{NoSignals: true, Logger: slogNew(logs)}) }()
			defer func() {
				cancel()
				<-done
				if t.Failed() {
					t.Logf("log:\n%s", logs)
				}
			}()
			base := "https://" + ls.Main[0].Addr().String()
			for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
					Protocols: new(http.Protocols), MaxResponseHeaderBytes: 1 << 20}
				tr.Protocols.SetHTTP1(proto == "HTTP/1.1")
				tr.Protocols.SetHTTP2(proto == "HTTP/2.0")
				client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
				defer tr.CloseIdleConnections()
				for _, c := range []struct {
					path, body string
					n          int
				}{
					{"/cookies", "whole", 15},
					{"/cookies", "whole", 20},
					{"/stream", "stream", 20},
				} {
					t.Run(fmt.Sprintf("%s %s %d cookies", proto, c.path, c.n), func(t *testing.T) {
						resp, err := client.Get(fmt.Sprintf("%s%s?n=%d&size=4000", base, c.path, c.n))
						if err != nil {
							t.Fatal(err)
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.Proto != proto {
							t.Errorf("served over %s", resp.Proto)
						}
						over := c.n == 20 && tc.limit == 0
						wantStatus, wantCookies, wantBody := 200, c.n, c.body
						if over {
							wantStatus, wantCookies, wantBody = 502, 0, "Bad Gateway"
						}
						if resp.StatusCode != wantStatus || len(resp.Cookies()) != wantCookies || !strings.Contains(string(b), wantBody) {
							t.Errorf("%d with %d cookies and body %.40q; want %d with %d and %q", resp.StatusCode,
								len(resp.Cookies()), b, wantStatus, wantCookies, wantBody)
						}
					})
				}
			}
			m := tooLarge.FindAllStringSubmatch(logs.String(), -1)
			if want := map[int]int{0: 4, -1: 0}[tc.limit]; len(m) != want {
				t.Errorf("%d log lines of a head too large, want %d", len(m), want)
			}
			for _, sm := range m {
				if n, _ := strconv.Atoi(sm[1]); n < 20*4000 || n > 20*4100 { // 20 cookies of 4000 bytes, their names and the rest
					t.Errorf("head size %s in the log", sm[1])
				}
			}
		})
	}
}
