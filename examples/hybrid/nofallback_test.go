package main

import (
	"bufio"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/examples/internal/opstest"
)

// With no fallback the Go routes answer as in TestHybrid, through the
// same middleware (request ids), and what Python would serve gets the
// router's own answers: 404, and 405 with Allow for another method on a
// Go path. No Python is needed.
func TestNoFallbackHandler(t *testing.T) {
	var f cli.Flags // the defaults, without opstest.Flags: no interpreter wanted
	f.Register(cli.NewFlagSet("test"), cli.Defaults{Workers: 2})
	srv := httptest.NewServer(newHandler(&f, nil, "", opstest.Logger(), nil))
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		want         string // substring of the body
		allow        []string
	}{
		{"GET", "/api/health", 200, `{"status":"ok"}`, nil},
		{"GET", "/api/users/42", 200, `"served_by":"go"`, nil},
		{"GET", "/api/hello/a%20b", 200, `"self":"/api/hello/a%20b"`, nil},
		{"GET", "/api/routes", 200, `"pattern":"/api/health"`, nil},
		{"HEAD", "/api/health", 200, "", nil},
		// TestHybrid's Python answers: here the router's.
		{"GET", "/", 404, "404 page not found", nil},
		{"GET", "/hello?name=graft", 404, "404 page not found", nil},
		{"POST", "/echo", 404, "404 page not found", nil},
		{"GET", "/nope", 404, "404 page not found", nil},
		{"POST", "/api/users/42", 405, "", []string{"GET", "HEAD"}},
		{"DELETE", "/api/health", 405, "", []string{"GET", "HEAD"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := send(t, tc.method, srv.URL+tc.path, "")
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.status, tc.want)
			}
			if strings.Contains(body, "Python") {
				t.Errorf("body %q mentions Python", body)
			}
			if tc.allow != nil {
				allow := resp.Header.Values("Allow")
				slices.Sort(allow) // chi writes one field per method, in no set order
				if !slices.Equal(allow, tc.allow) {
					t.Errorf("Allow %q, want %q", allow, tc.allow)
				}
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-ID: the middleware did not run")
			}
		})
	}
}

// -no-fallback takes no app and none of the flags that configure Python,
// and says which to drop.
func TestNoFallbackFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for no error, else a substring of it
	}{
		{[]string{"-no-fallback"}, ""},
		{[]string{"-no-fallback", "-bind", "127.0.0.1:0", "-access-log=false", "-graceful-timeout", "5", "-limit-request-line", "8190"}, ""},
		{[]string{"-no-fallback", "app:app"}, `drop the module:callable argument "app:app"`},
		{[]string{"app:app", "-no-fallback"}, `drop the module:callable argument "app:app"`},
		{[]string{"-no-fallback", "-workers", "2", "-python", "/usr/bin/python3"}, "-no-fallback starts no Python; drop -python, -workers"},
		{[]string{"-no-fallback", "-mount", "/legacy"}, "drop -mount"},
		{[]string{"-no-fallback", "-routes"}, "drop -routes"},
		{[]string{"-no-fallback", "-prefetch", "2"}, "drop -prefetch"},
		{[]string{"-no-fallback", "-sched-batch=false"}, "drop -sched-batch"},
		{[]string{"-no-fallback", "-child-subreaper"}, "drop -child-subreaper"},
		{[]string{"-no-fallback", "-stages", "stages.json", "-admin-bind", "127.0.0.1:0"}, "drop -admin-bind, -stages"},
		{[]string{"-no-fallback", "-metrics-bind", "127.0.0.1:0"}, "drop -metrics-bind"},
		{[]string{"-no-fallback", "-sendfile-root", "/tmp"}, "drop -sendfile-root"},
		{[]string{"-no-fallback", "-preload=false"}, "drop -preload"},
		{[]string{"-no-fallback", "-response-spill", "0"}, "drop -response-spill"},
		{[]string{"-no-fallback", "-max-body-size", "10"}, "drop -max-body-size"}, // a limit of the WSGI container
		{[]string{"-no-fallback", "-send-timeout", "5s"}, ""},                     // the native routes' writes are watched too
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			o, err := parseFlags(tc.args)
			if tc.want == "" {
				if err != nil || !o.noFallback {
					t.Fatalf("error %v, noFallback %v; want none, true", err, o.noFallback)
				}
				return
			}
			var ue *cli.UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
}

var listeningURL = regexp.MustCompile(`listening.* url.full=(http://[^ ]+?)/?(\s|$)`)

// The built command with -no-fallback serves the Go routes, answers 404
// where the Python app would answer, and starts no Python: the
// interpreter it would use does not exist, and the server has no child
// process. SIGTERM stops it cleanly.
func TestNoFallbackCommand(t *testing.T) {
	bin := opstest.Build(t, "hybrid")
	cmd := exec.Command(bin, "-no-fallback", "-bind", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GRAFT_PYTHON=/nonexistent/python3") // the -python default
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	urls := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := listeningURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("hybrid log:\n%s", log.String())
		}
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-exited:
		stopped = true
		t.Fatalf("hybrid -no-fallback exited before listening: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("hybrid -no-fallback did not start listening")
	}
	base = strings.TrimSuffix(base, "/")

	if resp, body := send(t, "GET", base+"/api/health", ""); resp.StatusCode != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("GET /api/health: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(t, "GET", base+"/hello?name=graft", ""); resp.StatusCode != 404 || strings.Contains(body, "Python") {
		t.Errorf("GET /hello: %d %q, want the router's 404", resp.StatusCode, body)
	}
	if runtime.GOOS == "linux" {
		if kids := children(t, cmd.Process.Pid); len(kids) > 0 {
			t.Errorf("hybrid -no-fallback has child processes %v, want none", kids)
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("hybrid -no-fallback did not exit on SIGTERM")
	}
	if strings.Contains(log.String(), "worker") {
		t.Errorf("the log mentions workers:\n%s", log.String())
	}
}

// children returns the pids whose parent is pid, from /proc.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Fatalf("no /proc: %v", err)
	}
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process has exited
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the command may contain spaces
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, child)
		}
	}
	return out
}
