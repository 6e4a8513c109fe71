package wsgi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// h2tlsFlaskApp is the Flask app of TestServeH2TLSFlask: /data and
// /stream answer the length and SHA-256 of the body, read through
// request.data or request.stream; /noread reads none of it; /list is a
// 10 MiB body in one piece, /file 10 MiB through wsgi.file_wrapper, /gen
// 10 MiB from a generator; /env the environ's TLS and HTTP/2 keys; /sess
// counts in a Flask session; /slow sleeps.
const h2tlsFlaskApp = `import hashlib, os, time
from flask import Flask, Response, request, session
app = Flask(__name__)
app.secret_key = "h2tls"
FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "big.bin")

def digest(n, h):
    return "%d %s" % (n, h.hexdigest())

@app.route("/data", methods=["POST"])
def data():
    d = request.data
    return digest(len(d), hashlib.sha256(d))

@app.route("/stream", methods=["POST"])
def stream():
    h, n = hashlib.sha256(), 0
    while True:
        c = request.stream.read(65536)
        if not c:
            break
        h.update(c)
        n += len(c)
    return digest(n, h)

@app.route("/noread", methods=["POST"])
def noread():
    return "ignored"

@app.route("/list")
def lst():
    return Response([b"l" * (10 << 20)])

@app.route("/file")
def file():
    return Response(request.environ["wsgi.file_wrapper"](open(FILE, "rb")), mimetype="application/octet-stream")

@app.route("/gen")
def gen():
    return Response(b"g" * 65536 for _ in range(160))

@app.route("/env")
def env():
    e = request.environ
    return "%s %s %s %s" % (e["wsgi.url_scheme"], e.get("HTTPS"), e["SERVER_PORT"], e["SERVER_PROTOCOL"])

@app.route("/sess")
def sess():
    session["n"] = session.get("n", 0) + 1
    return str(session["n"])

@app.route("/slow")
def slow():
    time.sleep(1)
    return "slept"
`

// TestServeH2TLSFlask walks a real Flask app over HTTP/2 on TLS, through
// the guard's hand-off of h2 connections (guardh2tls.go), and over
// HTTP/1.1 on TLS for comparison, with Go's client: uploads past the
// initial flow-control window (1 and 20 MiB, through request.data and
// request.stream), one the app does not read (the connection serves on),
// a 413 past MaxBodySize; 10 MiB downloads (a list body,
// wsgi.file_wrapper, a generator), one cancelled mid-way (RST_STREAM)
// while another stream on the connection finishes; 150 concurrent streams
// on one connection, native and bridged; the environ (https, HTTPS=on,
// SERVER_PORT, SERVER_PROTOCOL) and a Flask session; and a shutdown with
// bridged streams in flight, which are answered.
func TestServeH2TLSFlask(t *testing.T) {
	py := pythontest.Python(t, "flask")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "h2app.py"), []byte(h2tlsFlaskApp), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte("f"), 10<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	app, err := New(Config{App: "h2app:app", Dir: dir, Python: py, Workers: 4, Timeout: time.Minute,
		MaxBodySize: 30 << 20, Logger: slogNew(logs)})
	if err != nil {
		ls.Close()
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/native" {
			fmt.Fprintf(w, "native %s %v", r.Proto, r.TLS != nil)
			return
		}
		app.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, h, app, ServeConfig{NoSignals: true, GracefulTimeout: 10 * time.Second, Logger: slogNew(logs)})
	}()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	}()
	_, port, _ := strings.Cut(ls.Main[0].Addr().String(), ":")
	base := "https://localhost:" + port
	client := func(h2 bool) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxConnsPerHost: 1, Protocols: new(http.Protocols)}
		if h2 {
			tr.Protocols.SetHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
		jar, _ := cookiejar.New(nil)
		return &http.Client{Transport: tr, Jar: jar, Timeout: 20 * time.Second}
	}
	get := func(t *testing.T, c *http.Client, method, path string, body []byte) (*http.Response, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading the body: %v", method, path, err)
		}
		return resp, string(b)
	}
	up := map[int][]byte{}
	for _, n := range []int{1 << 20, 20 << 20} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7 % 253)
		}
		up[n] = b
	}
	for _, h2 := range []bool{true, false} {
		proto := map[bool]string{true: "HTTP/2.0", false: "HTTP/1.1"}[h2]
		t.Run(proto, func(t *testing.T) {
			c := client(h2)
			t.Run("uploads", func(t *testing.T) {
				for _, n := range []int{1 << 20, 20 << 20} {
					for _, path := range []string{"/data", "/stream"} {
						want := fmt.Sprintf("%d %x", n, sha256.Sum256(up[n]))
						resp, got := get(t, c, "POST", path, up[n])
						if resp.Proto != proto || resp.StatusCode != 200 || got != want {
							t.Errorf("POST %s of %d bytes: %s %d %q; want %s 200 %q", path, n, resp.Proto, resp.StatusCode, got, proto, want)
						}
					}
				}
				if resp, got := get(t, c, "POST", "/noread", up[20<<20]); resp.StatusCode != 200 || got != "ignored" {
					t.Errorf("POST /noread: %d %q", resp.StatusCode, got)
				}
				if resp, got := get(t, c, "GET", "/env", nil); resp.StatusCode != 200 || !strings.HasPrefix(got, "https") {
					t.Errorf("GET /env after an unread upload: %d %q", resp.StatusCode, got)
				}
				if resp, _ := get(t, c, "POST", "/data", make([]byte, 31<<20)); resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Errorf("POST of 31 MiB over MaxBodySize 30 MiB: %d; want 413", resp.StatusCode)
				}
			})
			t.Run("downloads", func(t *testing.T) {
				for _, path := range []string{"/list", "/file", "/gen"} {
					resp, got := get(t, c, "GET", path, nil)
					if resp.StatusCode != 200 || len(got) != 10<<20 {
						t.Errorf("GET %s: %d, %d bytes; want 200, 10 MiB", path, resp.StatusCode, len(got))
					}
				}
				// A download cancelled mid-way; another on the connection
				// goes on to its end.
				rctx, rcancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(rctx, "GET", base+"/gen", nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				other := make(chan string, 1)
				go func() {
					resp, err := c.Get(base + "/list")
					if err != nil {
						other <- err.Error()
						return
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					other <- fmt.Sprint(n, " ", err)
				}()
				io.ReadFull(resp.Body, make([]byte, 64<<10))
				rcancel()
				resp.Body.Close()
				if got := <-other; got != fmt.Sprint(10<<20, " <nil>") {
					t.Errorf("the other download: %s; want 10 MiB", got)
				}
			})
			t.Run("concurrent streams", func(t *testing.T) {
				var wg sync.WaitGroup
				errs := make(chan string, 150)
				for i := range 150 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						path, want := "/env", "https on "+port+" "+proto
						if i%2 == 0 {
							path, want = "/native", "native "+proto+" true"
						}
						resp, err := c.Get(base + path)
						if err != nil {
							errs <- err.Error()
							return
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if string(b) != want {
							errs <- fmt.Sprintf("GET %s: %q; want %q", path, b, want)
						}
					}()
				}
				wg.Wait()
				close(errs)
				for e := range errs {
					t.Error(e)
				}
			})
			t.Run("session", func(t *testing.T) {
				for i := 1; i <= 3; i++ {
					if _, got := get(t, c, "GET", "/sess", nil); got != fmt.Sprint(i) {
						t.Fatalf("GET /sess #%d: %q", i, got)
					}
				}
			})
		})
	}
	// A shutdown with bridged streams in flight on one HTTP/2 connection:
	// they are answered, and Serve returns.
	c := client(true)
	answers := make(chan string, 3)
	for range 3 {
		go func() {
			resp, err := c.Get(base + "/slow")
			if err != nil {
				answers <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- resp.Proto + " " + string(b)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	stopped = true
	for range 3 {
		if got := <-answers; got != "HTTP/2.0 slept" {
			t.Errorf("a stream in flight at the shutdown: %q", got)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after the shutdown")
	}
	if _, err := client(true).Get(base + "/env"); err == nil {
		t.Error("a new connection after the shutdown was served")
	}
}
