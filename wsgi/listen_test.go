package wsgi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

func TestListenBinds(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notSock := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notSock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cfg     ListenConfig
		wantErr string // "" for success
	}{
		{"default", ListenConfig{Binds: []string{"127.0.0.1:0"}}, ""},
		{"several", ListenConfig{Binds: []string{"127.0.0.1:0", "127.0.0.1:0", "unix:" + filepath.Join(t.TempDir(), "s.sock")}}, ""},
		{"busy port", ListenConfig{Binds: []string{busy.Addr().String()}}, "address already in use"},
		{"busy second bind", ListenConfig{Binds: []string{"127.0.0.1:0", busy.Addr().String()}}, busy.Addr().String()},
		{"busy ops port", ListenConfig{Binds: []string{"127.0.0.1:0"}, OpsBind: busy.Addr().String()}, "wsgi: operations listener: listen tcp " + busy.Addr().String()},
		{"no port", ListenConfig{Binds: []string{"localhost"}}, `wsgi: bind "localhost": want host:port or unix:/path/to.sock`},
		{"empty unix", ListenConfig{Binds: []string{"unix:"}}, "want unix:/path/to.sock"},
		// gunicorn's form for a socket it inherits said only that "3" was not a port
		{"gunicorn's fd://", ListenConfig{Binds: []string{"fd://3"}}, `wsgi: bind "fd://3": gunicorn's fd:// is not supported: pass inherited sockets with systemd socket activation (LISTEN_FDS and LISTEN_PID, LISTEN_FDNAMES for ops)`},
		{"unix over a file", ListenConfig{Binds: []string{"unix:" + notSock}}, "exists and is not a socket"},
		{"unix in a missing dir", ListenConfig{Binds: []string{"unix:/nonexistent/dir/s.sock"}}, "no such file or directory"},
		{"cert without key", ListenConfig{CertFile: "cert.pem"}, "needs both CertFile and KeyFile"},
		{"missing cert", ListenConfig{CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key"}, "wsgi: certificate: open /nonexistent.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := Listen(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Listen: %v", err)
				}
				if len(ls.Main) != len(tc.cfg.Binds) {
					t.Errorf("%d listeners for %d binds", len(ls.Main), len(tc.cfg.Binds))
				}
				if err := ls.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				return
			}
			if err == nil {
				ls.Close()
				t.Fatalf("Listen(%+v): no error; want %q", tc.cfg, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Listen error %q; want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// A failed bind closes the listeners already open: the address is free
// again at once.
func TestListenFailureClosesTheOthers(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sock := filepath.Join(t.TempDir(), "s.sock")
	if _, err := Listen(ListenConfig{Binds: []string{"unix:" + sock}, OpsBind: busy.Addr().String()}); err == nil {
		t.Fatal("Listen with a busy OpsBind: no error")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unix socket of a failed Listen is left: %v", err)
	}
}

func TestListenUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "graft.sock")

	// A stale socket file, left by a server that died, is replaced.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}

	ls, err := Listen(ListenConfig{Binds: []string{"unix:" + sock}})
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v; want 0660", fi.Mode().Perm())
	}
	// A live one is not taken over.
	if ls2, err := Listen(ListenConfig{Binds: []string{"unix:" + sock}}); err == nil {
		ls2.Close()
		t.Error("Listen on a socket another server listens on: no error")
	} else if !strings.Contains(err.Error(), "another server is listening on it") {
		t.Errorf("Listen on a live socket: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	logs := &pythontest.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s %s", r.Proto, r.Host, r.RemoteAddr)
		}), nil, ServeConfig{NoSignals: true, Logger: slogNew(logs)})
	}()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := client.Get("http://graft/")
	if err != nil {
		t.Fatalf("GET over the unix socket: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), "HTTP/1.1 graft") {
		t.Errorf("answer %q over the unix socket", b)
	}
	if !strings.Contains(logs.String(), "url.full=unix:"+sock) {
		t.Errorf("no listening line with the socket's path:\n%s", logs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket file is left after Serve returned: %v", err)
	}
}

// TLS with a generated certificate: HTTP/2 is negotiated by default, to the
// Python app as well as to Go; NoHTTP2 keeps HTTP/1.1.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	c, logs := newContainer(t, Config{App: "opsapp:app"})
	mux := http.NewServeMux()
	mux.HandleFunc("/go", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	})
	mux.Handle("/", c)
	for _, tc := range []struct {
		name      string
		noHTTP2   bool
		wantProto string
	}{{"h2", false, "HTTP/2.0"}, {"http1.1 only", true, "HTTP/1.1"}} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "tls.sock")
			ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0", "unix:" + sock}, CertFile: certFile, KeyFile: keyFile})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- Serve(ctx, ls, mux, nil, ServeConfig{NoSignals: true, NoHTTP2: tc.noHTTP2, Logger: slogNew(logs)})
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool},
				ForceAttemptHTTP2: true,
			}}
			base := "https://" + ls.Main[0].Addr().String()
			for _, path := range []string{"/go", "/pid"} {
				resp, err := client.Get(base + path)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Proto != tc.wantProto {
					t.Errorf("GET %s: %s %s %q; want 200 over %s", path, resp.Proto, resp.Status, b, tc.wantProto)
				}
				if path == "/go" && string(b) != tc.wantProto+" true" {
					t.Errorf("the handler saw %q", b)
				}
			}
			// Plain HTTP on a TLS listener is refused, and reported as the
			// guard's other refusals are (no access line tells of it).
			refusedBefore := strings.Count(logs.String(), "request refused at the HTTP boundary")
			resp, err := http.Get("http://" + ls.Main[0].Addr().String() + "/go")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("plain HTTP on the TLS listener: %s", resp.Status)
				}
			}
			waitFor(t, 5*time.Second, "the plain HTTP request reported as refused", func() bool {
				return strings.Count(logs.String(), "request refused at the HTTP boundary") == refusedBefore+1
			})
			if want := `http.response.status_code=400 client.ip=127.0.0.1 error="plain HTTP on an HTTPS listener"`; !strings.Contains(logs.String(), want) {
				t.Errorf("no %q in the log:\n%s", want, logs)
			}
			for _, u := range []string{base, "https+unix:" + sock} {
				if !strings.Contains(logs.String(), "url.full="+u) {
					t.Errorf("no listening line with %s:\n%s", u, logs)
				}
			}
		})
	}
}

// Socket activation: the server is a child process given the listener as
// descriptor 3 with LISTEN_FDS=1 and LISTEN_PID set to its own pid (a
// shell sets LISTEN_PID=$$ and execs it), as systemd does. A second
// socket named "ops" becomes the operations listener.
func TestSocketActivation(t *testing.T) {
	if os.Getenv("GRAFT_TEST_ACTIVATED") == "1" {
		return // the helper of TestSocketActivationHelper runs instead
	}
	web, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	ops, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	webFile, err := web.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer webFile.Close()
	opsFile, err := ops.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer opsFile.Close()

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, exe, "-test.run=^TestSocketActivationHelper$")
	cmd.Env = append(os.Environ(), "GRAFT_TEST_ACTIVATED=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=web:ops")
	cmd.ExtraFiles = []*os.File{webFile, opsFile}
	logs := &pythontest.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the activated server exited with %v:\n%s", err, logs)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("the activated server did not stop on SIGTERM:\n%s", logs)
		}
	}()
	// Our copies of the listeners are closed: only the child accepts.
	webFile.Close()
	opsFile.Close()
	web.Close()
	ops.Close()

	get := func(url string) string {
		t.Helper()
		var last error
		for range 100 {
			resp, err := http.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return string(b)
			}
			last = err
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("GET %s: %v\nserver output:\n%s", url, last, logs)
		return ""
	}
	got := get("http://" + web.Addr().String() + "/")
	want := fmt.Sprintf("pid=%d listen_fds=", cmd.Process.Pid)
	if got != want {
		t.Errorf("the activated server answered %q; want %q (served by the child, LISTEN_* unset)", got, want)
	}
	if got := get("http://" + ops.Addr().String() + "/ops"); got != "ops" {
		t.Errorf("the ops socket answered %q; want ops", got)
	}
	// The log says where the sockets came from.
	logHas(t, logs, 5*time.Second, `msg="listening on a socket passed by systemd" url.full=http://`+web.Addr().String(),
		`msg="operations listener on a socket passed by systemd" url.full=http://`+ops.Addr().String())
}

// TestSocketActivationHelper is the child of TestSocketActivation.
func TestSocketActivationHelper(t *testing.T) {
	if os.Getenv("GRAFT_TEST_ACTIVATED") != "1" {
		return
	}
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:1"}}) // ignored: systemd's sockets win
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Main) != 1 || ls.Ops == nil {
		t.Fatalf("activated listeners: %d main, ops %v; want 1 and the ops socket", len(ls.Main), ls.Ops)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pid=%d listen_fds=%s", os.Getpid(), os.Getenv("LISTEN_FDS"))
	})
	ops := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ops") })
	if err := Serve(context.Background(), ls, h, nil, ServeConfig{OpsHandler: ops, Logger: slogNew(os.Stderr)}); err != nil {
		t.Fatal(err)
	}
}

// LISTEN_PID of another process (the parent's, inherited) is not ours:
// the descriptors are not taken.
func TestSocketActivationOtherPID(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getppid()))
	t.Setenv("LISTEN_FDS", "1")
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	if _, ok := ls.Main[0].Addr().(*net.TCPAddr); !ok || os.Getenv("LISTEN_FDS") != "1" {
		t.Errorf("Listen took descriptors meant for another process")
	}
}

// SIGHUP rereads the certificate files: a renewed certificate serves new
// handshakes; one that does not load leaves the current one.
func TestServeCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testcert.Write(t, dir, 1)
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := ls.Main[0].Addr().String()
	logs := &pythontest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ls, http.NotFoundHandler(), nil, ServeConfig{Logger: slogNew(logs)}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	waitFor(t, 10*time.Second, "the listening line", func() bool { return strings.Contains(logs.String(), "msg=listening") })
	serial := func() int64 {
		t.Helper()
		// Only the served certificate's serial matters here.
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 1 {
		t.Fatalf("serial %d; want 1", got)
	}

	testcert.Write(t, dir, 2)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the renewed certificate", func() bool { return serial() == 2 })
	logHas(t, logs, 5*time.Second, `msg="wsgi: SIGHUP: certificate reloaded" graft.file=`+certFile)

	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the failed reload", func() bool {
		return strings.Contains(logs.String(), "SIGHUP: the certificate did not load; the current one stays")
	})
	logHas(t, logs, time.Second, `msg="wsgi: SIGHUP: the certificate did not load; the current one stays" graft.file=`+certFile)
	if got := serial(); got != 2 {
		t.Errorf("serial %d after a bad certificate file; want 2, the current one", got)
	}
	if err := ls.ReloadCertificate(); err == nil || !strings.Contains(err.Error(), "wsgi: certificate:") {
		t.Errorf("ReloadCertificate of a bad file: %v", err)
	}
}

// TestCertificateFilesChanged: a renewal that replaces the certificate
// files is served without a SIGHUP (Serve with NoSignals), as gunicorn
// reads them on every connection: files rewritten in place; a directory
// swapped by its symbolic link (a Kubernetes Secret volume's ..data, which
// cert-manager renews and nobody sends a SIGHUP); a renewal that does not
// load (a certificate whose key is not there yet), which leaves the
// current certificate and is logged, then loads once the key is in place.
// Before, the files were read only at Listen and on SIGHUP.
func TestCertificateFilesChanged(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"v1", "v2", "v3"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	live := filepath.Join(dir, "live")
	swap := func(to string) { // the link replaced at once, as Kubernetes does
		t.Helper()
		tmp := filepath.Join(dir, "live.tmp")
		if err := os.Symlink(to, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, live); err != nil {
			t.Fatal(err)
		}
	}
	testcert.Write(t, filepath.Join(dir, "v1"), 1)
	swap("v1")
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"},
		CertFile: filepath.Join(live, "cert.pem"), KeyFile: filepath.Join(live, "key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	addr := ls.Main[0].Addr().String()
	logs := &pythontest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, http.NotFoundHandler(), nil, ServeConfig{NoSignals: true, Logger: slogNew(logs)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	}()
	waitFor(t, 10*time.Second, "the listening line", func() bool { return strings.Contains(logs.String(), "msg=listening") })
	serial := func() int64 {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	renewed := func(want int64) {
		t.Helper()
		waitFor(t, 10*time.Second, fmt.Sprintf("certificate %d served", want), func() bool { return serial() == want })
	}
	if got := serial(); got != 1 {
		t.Fatalf("serial %d; want 1", got)
	}

	// Rewritten in place (through the link).
	testcert.Write(t, filepath.Join(dir, "v1"), 2)
	renewed(2)
	logHas(t, logs, 5*time.Second, `msg="wsgi: certificate reloaded: its files changed" graft.file=`+filepath.Join(live, "cert.pem"))

	// The directory swapped.
	testcert.Write(t, filepath.Join(dir, "v2"), 3)
	swap("v2")
	renewed(3)

	// A renewal whose key is the old one: not loaded, logged once.
	_, keyFile, _ := testcert.Write(t, filepath.Join(dir, "v3"), 4)
	newKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := os.ReadFile(filepath.Join(dir, "v2", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	swap("v3")
	waitFor(t, 10*time.Second, "the failed reload's line", func() bool {
		if got := serial(); got != 3 { // a handshake looks at the files
			t.Fatalf("serial %d with a certificate that does not load; want 3, the current one", got)
		}
		return strings.Contains(logs.String(), "the certificate files changed but do not load; the current certificate stays")
	})
	logHas(t, logs, time.Second, "private key does not match public key",
		`msg="wsgi: the certificate files changed but do not load; the current certificate stays" graft.file=`+filepath.Join(live, "cert.pem"))
	time.Sleep(1100 * time.Millisecond) // a look or more at the unchanged files
	serial()
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Errorf("the failed reload logged %d times, want once", n)
	}
	if err := os.WriteFile(keyFile, newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	renewed(4)
}

// TestListenerURL: the URL of the "listening" line tells a TLS Unix socket
// from a plain one (both read "unix:/path" before).
func TestListenerURL(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	sock := filepath.Join(t.TempDir(), "s.sock")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	for _, tc := range []struct {
		name string
		ln   net.Listener
		tls  bool
		want string
	}{
		{"tcp", tcp, false, "http://" + tcp.Addr().String()},
		{"tcp tls", tcp, true, "https://" + tcp.Addr().String()},
		{"unix", unix, false, "unix:" + sock},
		{"unix tls", unix, true, "https+unix:" + sock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listenerURL(tc.ln, tc.tls); got != tc.want {
				t.Errorf("listenerURL = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestListenUnixNoWindow: while Listen sets up a Unix socket, the final
// path never holds a socket with other permissions than SocketMode, and
// nobody can connect to the socket (at any name) before it has them. The
// test looks at the path and dials it at each step of the setup (a hook
// of bindUnix), with a stale socket at the path and without one.
func TestListenUnixNoWindow(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprint("stale=", stale), func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "graft.sock")
			if stale {
				ln, err := net.Listen("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				ln.(*net.UnixListener).SetUnlinkOnClose(false)
				ln.Close()
				if err := os.Chmod(sock, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			const mode = 0o660
			steps := 0
			observe := func() {
				steps++
				if fi, err := os.Lstat(sock); err == nil && fi.Mode().Perm() != mode && !(stale && fi.Mode().Perm() == 0o600) {
					t.Errorf("step %d: %s is there with mode %v, not %v", steps, sock, fi.Mode().Perm(), fs.FileMode(mode))
				}
				// Any socket in the directory (the final one, a temporary one).
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					p := filepath.Join(dir, e.Name())
					if c, err := net.Dial("unix", p); err == nil {
						c.Close()
						fi, _ := os.Lstat(p)
						t.Errorf("step %d: connected to %s (mode %v) before it was ready", steps, e.Name(), fi.Mode().Perm())
					}
				}
			}
			ln, err := bindUnix(sock, mode, observe)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if steps == 0 {
				t.Fatal("the hook was never called")
			}
			fi, err := os.Lstat(sock)
			if err != nil || fi.Mode().Perm() != mode || fi.Mode().Type() != fs.ModeSocket {
				t.Fatalf("after Listen: %v %v", fi, err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("files left in the directory: %v", entries)
			}
			if ln.Addr().String() != sock {
				t.Errorf("Addr %q, want %q", ln.Addr(), sock)
			}
			go func() {
				if c, err := ln.Accept(); err == nil {
					c.Close()
				}
			}()
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatalf("dial after Listen: %v", err)
			}
			c.Close()
		})
	}
}

// systemd passing only the socket named "ops" (the application's .socket
// unit missing from the service's Sockets=, or not started) leaves no
// application socket: with no Binds, Listen fails saying so, rather than
// serve on DefaultBind, a loopback port nobody sends to; with Binds, those
// are bound beside systemd's ops socket.
func TestSocketActivationOnlyOps(t *testing.T) {
	if os.Getenv("GRAFT_TEST_ACTIVATED") != "" {
		return // the helper runs instead
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, binds, want string
	}{
		{"no binds", "", "error: wsgi: socket activation: systemd passed only the operations socket (named ops) and no application socket"},
		{"binds", "127.0.0.1:0", "main 1 ops true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ops.Close()
			opsFile, err := ops.(*net.TCPListener).File()
			if err != nil {
				t.Fatal(err)
			}
			defer opsFile.Close()
			cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, exe, "-test.run=^TestSocketActivationOnlyOpsHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "GRAFT_TEST_ACTIVATED=ops", "GRAFT_TEST_BINDS="+tc.binds, "LISTEN_FDS=1", "LISTEN_FDNAMES=ops")
			cmd.ExtraFiles = []*os.File{opsFile}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "LISTEN: "+tc.want) {
				t.Errorf("helper said:\n%s\nwant LISTEN: %s", out, tc.want)
			}
		})
	}
}

// TestSocketActivationOnlyOpsHelper is the child of
// TestSocketActivationOnlyOps: it reports what Listen did.
func TestSocketActivationOnlyOpsHelper(t *testing.T) {
	if os.Getenv("GRAFT_TEST_ACTIVATED") != "ops" {
		return
	}
	var binds []string
	if b := os.Getenv("GRAFT_TEST_BINDS"); b != "" {
		binds = []string{b}
	}
	ls, err := Listen(ListenConfig{Binds: binds})
	if err != nil {
		fmt.Printf("LISTEN: error: %v\n", err)
		return
	}
	defer ls.Close()
	fmt.Printf("LISTEN: main %d ops %v\n", len(ls.Main), ls.Ops != nil)
}
