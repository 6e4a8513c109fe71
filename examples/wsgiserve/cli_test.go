package main

// Command-line tests of the wsgiserve binary: usage and mistakes, binding
// before Python starts, several binds with a Unix socket, TLS with HTTP/2,
// systemd socket activation and the access log.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// markerApp writes an app whose import creates the file "imported" next
// to it, and returns its directory: a test sees whether Python started.
func markerApp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := "import os\nopen(os.path.join(os.path.dirname(__file__), 'imported'), 'w').close()\n" +
		"def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"
	if err := os.WriteFile(filepath.Join(dir, "marker.py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCommandLine runs wsgiserve with command lines that must end before
// any worker starts: help, mistakes, a directory or a port that cannot be
// used.
func TestCommandLine(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	py := pythontest.Python(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string   // substring
		stderr []string // substrings
	}{
		{"-h", []string{"-h"}, 0, "usage: wsgiserve [flags] module:callable [flags]", nil},
		{"--help after the app", []string{"marker:app", "--help"}, 0, "-start-timeout DURATION", nil},
		{"bad duration", []string{"marker:app", "-timeout", "soon"}, 2, "",
			[]string{"wsgiserve: invalid value \"soon\" for flag -timeout: want seconds (30, 2.5) or a duration (30s, 1m30s, 500ms)\nRun 'wsgiserve -h' for the flags.\n"}},
		{"unknown flag", []string{"-wokers", "2", "marker:app"}, 2, "", []string{"flag provided but not defined: -wokers"}},
		{"no app", nil, 2, "", []string{"want one module:callable argument, got 0"}},
		{"malformed app", []string{"marker app:app"}, 2, "", []string{"wsgiserve: wsgi: App \"marker app:app\" is not module:callable", "Run 'wsgiserve -h'"}},
		{"malformed bind", []string{"-bind", "8000", "marker:app"}, 2, "",
			[]string{"wsgiserve: invalid value \"8000\" for flag -bind: wsgi: bind \"8000\": want host:port or unix:/path/to.sock\nRun 'wsgiserve -h' for the flags.\n"}},
		{"port out of range", []string{"-bind", "127.0.0.1:80000", "marker:app"}, 2, "", []string{"flag -bind: ", "not a number up to 65535"}},
		{"gunicorn's fd:// bind", []string{"-bind", "fd://3", "marker:app"}, 2, "", []string{"flag -bind: ", "fd:// is not supported: pass inherited sockets with systemd socket activation"}},
		{"too many workers", []string{"-workers", "40000", "marker:app"}, 2, "", []string{"wsgiserve: -workers times -threads (40000*1) is more than 32768\n"}},
		{"missing static dir", []string{"-static", "/s/=/nonexistent/static", "marker:app"}, 1, "", []string{"wsgiserve: -static /s/=/nonexistent/static: no such file or directory\n"}},
		{"missing chdir", []string{"-chdir", "/nonexistent/app", "marker:app"}, 1, "",
			[]string{"wsgiserve: wsgi: cannot chdir to /nonexistent/app: no such file or directory\n"}},
		{"busy port", []string{"-bind", busy.Addr().String(), "marker:app"}, 1, "",
			[]string{"listen tcp " + busy.Addr().String(), "address already in use"}},
		{"busy second port", []string{"-bind", "127.0.0.1:0", "-bind", busy.Addr().String(), "marker:app"}, 1, "",
			[]string{"address already in use"}},
		{"busy metrics port", []string{"-metrics-bind", busy.Addr().String(), "-bind", "127.0.0.1:0", "marker:app"}, 1, "",
			[]string{"wsgiserve: wsgi: operations listener: listen tcp " + busy.Addr().String()}},
		{"missing certificate", []string{"-bind", "127.0.0.1:0", "-certfile", "/nonexistent.pem", "-keyfile", "/nonexistent.key", "marker:app"}, 1, "",
			[]string{"certificate: open /nonexistent.pem"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := markerApp(t)
			args := tc.args
			if tc.name != "missing chdir" {
				args = append([]string{"-chdir", dir}, args...)
			}
			cmd := exec.Command(bin, append([]string{"-python", py}, args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("exit %d, stdout %q; want exit %d, stdout with %q", code, stdout.String(), tc.code, tc.stdout)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q; want %q", stderr.String(), want)
				}
			}
			if code != 0 && strings.Contains(stderr.String(), "-access-log") {
				t.Errorf("a mistake dumps the usage:\n%s", stderr.String())
			}
			if strings.Contains(stderr.String(), "listening") {
				t.Errorf("logged listening:\n%s", stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "imported")); err == nil {
				t.Errorf("Python imported the app before the command line failed")
			}
		})
	}
}

// get does GET url with client and returns the status, X-Request-ID and
// body.
func get(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %s %q", url, resp.Status, b)
	}
	return resp, string(b)
}

// unixClient talks HTTP over the Unix socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

// Several -bind flags, one a Unix socket: the app answers on each.
func TestSeveralBinds(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	sock := filepath.Join(t.TempDir(), "wsgiserve.sock")
	s := startServe(t, bin, false, "-workers", "1", "-bind", "unix:"+sock)
	if _, body := get(t, http.DefaultClient, s.url+"/pid"); !strings.HasPrefix(body, "v1 ") {
		t.Errorf("TCP: %q", body)
	}
	if _, body := get(t, unixClient(sock), "http://wsgiserve/pid"); !strings.HasPrefix(body, "v1 ") {
		t.Errorf("unix socket: %q", body)
	}
	if !strings.Contains(s.stderr.String(), "msg=listening url.full=unix:"+sock) {
		t.Errorf("no listening line for the socket:\n%s", s.stderr)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %v, %v; want mode 0660", fi, err)
	}
}

// -socket-mode sets the mode of every Unix socket, -metrics-bind's too
// (gunicorn's default umask 0 makes its sockets 0777; graft's 0660 kept
// nginx's user out, and no flag changed it).
func TestSocketMode(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	dir := t.TempDir()
	sock, ops := filepath.Join(dir, "app.sock"), filepath.Join(dir, "ops.sock")
	startServe(t, bin, false, "-workers", "1", "-bind", "unix:"+sock, "-metrics-bind", "unix:"+ops, "-socket-mode", "0666")
	for _, p := range []string{sock, ops} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o666 || fi.Mode().Type() != os.ModeSocket {
			t.Errorf("%s: %v, %v; want a socket with mode 0666", p, fi, err)
		}
	}
	if _, body := get(t, unixClient(sock), "http://wsgiserve/pid"); !strings.HasPrefix(body, "v1 ") {
		t.Errorf("unix socket: %q", body)
	}
}

// -certfile and -keyfile: HTTPS, with HTTP/2 negotiated.
func TestTLS(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	s := startServe(t, bin, false, "-workers", "1", "-certfile", certFile, "-keyfile", keyFile)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("listening on %s; want https://", s.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, body := get(t, client, s.url+"/pid")
	if resp.Proto != "HTTP/2.0" || !strings.HasPrefix(body, "v1 ") {
		t.Errorf("%s %q; want HTTP/2.0 and the app's answer", resp.Proto, body)
	}
}

// systemd socket activation: wsgiserve started with the listener as
// descriptor 3, LISTEN_FDS=1 and LISTEN_PID its own pid (the shell sets
// LISTEN_PID=$$, then execs it) serves on that socket, not on -bind.
func TestSocketActivation(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	td, _ := filepath.Abs("../../wsgi/testdata")
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin,
		"-python", pythontest.Python(t), "-chdir", td, "-workers", "1", "-bind", "127.0.0.1:0", "opsapp:app")
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	s := startCmd(t, cmd, false)
	f.Close()
	ln.Close() // only wsgiserve's copy is left
	if want := "http://" + ln.Addr().String(); s.url != want {
		t.Errorf("listening on %s; want the passed socket %s", s.url, want)
	}
	if _, body := get(t, http.DefaultClient, "http://"+ln.Addr().String()+"/pid"); !strings.HasPrefix(body, "v1 ") {
		t.Errorf("answer %q on the passed socket", body)
	}
}

// The access log: one short line per request with its id, on by default;
// -access-log-verbose adds fields; -access-log=false turns off the log and
// the ids.
func TestAccessLog(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	for _, tc := range []struct {
		name    string
		args    []string
		want    bool // an access line and an X-Request-ID
		verbose bool
	}{
		{"default", nil, true, false},
		{"verbose", []string{"-access-log-verbose"}, true, true},
		{"off", []string{"-access-log=false"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, bin, false, append([]string{"-workers", "1"}, tc.args...)...)
			req, _ := http.NewRequest("GET", s.url+"/pid?q=1", nil)
			req.Header.Set("User-Agent", "graft-test-agent")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("X-Request-Id")
			if (id != "") != tc.want {
				t.Fatalf("X-Request-ID %q; want one: %v", id, tc.want)
			}
			var line string
			waitLine := func() bool {
				for _, l := range strings.Split(s.stderr.String(), "\n") {
					if strings.Contains(l, `msg="GET /pid?q=1 => HTTP 200`) {
						line = l
						return true
					}
				}
				return false
			}
			if !tc.want {
				// Once wsgiserve has exited, its stderr is all read.
				s.cmd.Process.Signal(syscall.SIGTERM)
				<-s.waited
				if waitLine() {
					t.Errorf("access line with -access-log=false: %s", line)
				}
				return
			}
			opstest.WaitFor(t, "the access line", waitLine)
			if !strings.Contains(line, "request.id="+id) || !strings.Contains(line, "graft.target=wsgi") {
				t.Errorf("access line without the request id %s or the target: %s", id, line)
			}
			if tc.verbose != strings.Contains(line, "graft-test-agent") {
				t.Errorf("user agent in the access line: %v; want %v: %s", !tc.verbose, tc.verbose, line)
			}
			if !tc.verbose && len(line) > 200 {
				t.Errorf("access line of %d characters; want at most 200: %s", len(line), line)
			}
		})
	}
}

// TestForwardedAllowIPs: behind a proxy on the same host, the app sees the
// client's address and scheme only with -forwarded-allow-ips, gunicorn's
// flag; a client's own X-Forwarded-For never reaches it, with the access
// log on or off. A proxy on a Unix socket has no address: "unix" trusts
// such peers, as gunicorn does.
func TestForwardedAllowIPs(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	for _, tc := range []struct {
		name string
		args []string
		unix bool // the request comes over a Unix socket
		want string
	}{
		{"nobody trusted", nil, false, "127.0.0.1 http -"},
		{"nobody trusted, no access log", []string{"-access-log=false"}, false, "127.0.0.1 http -"},
		{"the local proxy", []string{"-forwarded-allow-ips", "127.0.0.1,::1"}, false, "203.0.113.9 https -"},
		{"the local proxy, no access log", []string{"-forwarded-allow-ips", "127.0.0.1", "-access-log=false"}, false, "203.0.113.9 https -"},
		{"unix socket trusted", []string{"-forwarded-allow-ips", "unix"}, true, "203.0.113.9 https -"},
		{"unix socket not trusted", []string{"-forwarded-allow-ips", "127.0.0.1"}, true, " http -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, client := append([]string{"-workers", "1"}, tc.args...), http.DefaultClient
			sock := filepath.Join(t.TempDir(), "http.sock")
			if tc.unix {
				args, client = append(args, "-bind", "unix:"+sock), unixClient(sock)
			}
			s := startServe(t, bin, false, args...)
			url := s.url + "/client"
			if tc.unix {
				url = "http://app.example/client"
			}
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.want {
				t.Errorf("the app saw %q, want %q", b, tc.want)
			}
		})
	}
}

// TestProxyProtocolFlag: behind a load balancer that passes TCP through
// with the PROXY protocol, -proxy-protocol gives the app the client's
// address from its header.
func TestProxyProtocolFlag(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	s := startServe(t, bin, false, "-workers", "1", "-proxy-protocol", "10.0.0.0/8, 127.0.0.1")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\nGET /client HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(conn)
	if !strings.HasSuffix(string(b), "\r\n\r\n203.0.113.7 http -") {
		t.Errorf("response %q, want the app to see 203.0.113.7", b)
	}
}

// TestScriptName: an app behind a proxy under a path prefix gets it as
// SCRIPT_NAME and the rest of the path as PATH_INFO, from -script-name or,
// as gunicorn takes it, from $SCRIPT_NAME (before, $SCRIPT_NAME reached the
// workers' os.environ but the app saw SCRIPT_NAME "" and the whole path:
// every route a 404, every link without the prefix). A bad value, from
// either, is a usage error naming where it came from.
func TestScriptName(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	py := pythontest.Python(t)
	td, err := filepath.Abs("../../wsgi/testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string // $SCRIPT_NAME, "" for none
		args []string
		path string
		want string
	}{
		{"$SCRIPT_NAME, as gunicorn", "/app", nil, "/app/script", `'/app' '/script'`},
		{"-script-name", "", []string{"-script-name", "/app"}, "/app/script", `'/app' '/script'`},
		{"-script-name over $SCRIPT_NAME", "/other", []string{"-script-name", "/app"}, "/app/script", `'/app' '/script'`},
		{"-script-name= turns $SCRIPT_NAME off", "/app", []string{"-script-name="}, "/app/script", `'' '/app/script'`},
		{"escaped prefix", "/app", nil, "/%61pp/script", `'/app' '/script'`},
		{"outside the prefix", "/app", nil, "/script", `'' '/script'`},
		{"no prefix", "", nil, "/app/script", `'' '/app/script'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-bind", "127.0.0.1:0", "-python", py, "-chdir", td, "-workers", "1", "opsapp:app"}, tc.args...)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(withoutEnv("SCRIPT_NAME"), "SCRIPT_NAME="+tc.env)
			s := startCmd(t, cmd, false)
			if _, body := get(t, http.DefaultClient, s.url+tc.path); body != tc.want {
				t.Errorf("GET %s: the app saw %s, want %s", tc.path, body, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{"bad -script-name", "", []string{"-script-name", "app"}, `wsgiserve: -script-name "app" must start with / and not end with /` + "\n"},
		{"trailing slash", "", []string{"-script-name", "/app/"}, `wsgiserve: -script-name "/app/" must start with / and not end with /` + "\n"},
		{"bad $SCRIPT_NAME", "/app/", nil, `wsgiserve: -script-name "/app/" (from $SCRIPT_NAME) must start with / and not end with /` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := markerApp(t)
			// A server that starts instead is stopped after a while.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"-bind", "127.0.0.1:0", "-python", py, "-chdir", dir, "marker:app"}, tc.args...)...)
			cmd.Env = append(withoutEnv("SCRIPT_NAME"), "SCRIPT_NAME="+tc.env)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2; stderr:\n%s", err, &stderr)
			}
			if !strings.HasPrefix(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want it to begin with %q", &stderr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "imported")); err == nil {
				t.Errorf("Python started")
			}
		})
	}
}

// withoutEnv returns the test's environment without the variable name.
func withoutEnv(name string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, name+"=") {
			env = append(env, kv)
		}
	}
	return env
}
