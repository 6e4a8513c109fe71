package main

// Process-level operations tests: the wsgiserve binary is built and run as
// a subprocess, serving wsgi/testdata/opsapp.py (which answers
// "VERSION PID"). They check what only a real process shows: SIGTERM
// drains in-flight requests and leaves no worker behind, and kill -9 of
// the Go process leaves no orphaned Python process.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/examples/internal/opstest"
	"github.com/graft-dev/graft/internal/pythontest"
)

// served is a running wsgiserve.
type served struct {
	cmd     *exec.Cmd
	url     string // the app's first listener: http://, https:// or unix:
	opsURL  string // the operations listener, if any
	stderr  *pythontest.Buffer
	waited  chan struct{}
	waitErr error
}

var (
	listenRe = regexp.MustCompile(`msg="?listening[a-z ]*"? url.full=(\S+)`) // "listening on a socket passed by systemd" too
	opsRe    = regexp.MustCompile(`msg="operations listener[a-z ]*" url.full=(http://\S+)/status`)
)

// startServe runs wsgiserve with args and waits until it listens.
func startServe(t *testing.T, bin string, withOps bool, args ...string) *served {
	t.Helper()
	td, err := filepath.Abs("../../wsgi/testdata")
	if err != nil {
		t.Fatal(err)
	}
	// Flags before and after the app, as gunicorn takes them; a plain
	// number of seconds.
	all := []string{"-bind", "127.0.0.1:0", "-python", pythontest.Python(t), "opsapp:app", "-chdir", td, "-graceful-timeout", "10"}
	if withOps {
		all = append(all, "-metrics-bind", "127.0.0.1:0")
	}
	all = append(all, args...)
	return startCmd(t, exec.Command(bin, all...), withOps)
}

// startCmd starts cmd, a wsgiserve command, and waits until it listens
// (and has its operations listener, with withOps).
func startCmd(t *testing.T, cmd *exec.Cmd, withOps bool) *served {
	t.Helper()
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, stderr: &pythontest.Buffer{}, waited: make(chan struct{})}
	addrc := make(chan string, 1)
	opsc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.stderr, line)
			if m := listenRe.FindStringSubmatch(line); m != nil {
				addrc <- m[1]
			}
			if m := opsRe.FindStringSubmatch(line); m != nil {
				opsc <- m[1]
			}
		}
		s.waitErr = cmd.Wait()
		close(s.waited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.waited:
		default:
			cmd.Process.Kill()
			<-s.waited
		}
		if t.Failed() {
			t.Logf("wsgiserve stderr:\n%s", s.stderr)
		}
	})
	timeout := time.After(30 * time.Second)
	if withOps {
		select {
		case u := <-opsc:
			s.opsURL = u
		case <-s.waited:
			t.Fatalf("wsgiserve exited before listening: %v\n%s", s.waitErr, s.stderr)
		case <-timeout:
			t.Fatalf("wsgiserve did not start its operations listener:\n%s", s.stderr)
		}
	}
	select {
	case a := <-addrc:
		s.url = a
	case <-s.waited:
		t.Fatalf("wsgiserve exited before listening: %v\n%s", s.waitErr, s.stderr)
	case <-timeout:
		t.Fatalf("wsgiserve did not listen:\n%s", s.stderr)
	}
	return s
}

// answer does GET url and parses "VERSION PID".
func answer(client *http.Client, url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d: %q", resp.StatusCode, b)
	}
	var v string
	var pid int
	if _, err := fmt.Sscan(string(b), &v, &pid); err != nil {
		return 0, fmt.Errorf("bad answer %q", b)
	}
	return pid, nil
}

// procState returns the state letter of pid from /proc ("" if it does not
// exist) and its parent pid.
func procState(pid int) (state string, ppid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return "", 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid
}

// running reports whether pid is a process that still runs (a zombie,
// dead but not yet reaped by whichever process inherited it, does not).
func running(pid int) bool {
	st, _ := procState(pid)
	return st != "" && st != "Z"
}

// descendants returns every process whose parent chain leads to root.
func descendants(root int) map[int]bool {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ppid := procState(pid); st != "" {
			parent[pid] = ppid
		}
	}
	out := map[int]bool{}
	for pid := range parent {
		for p, n := parent[pid], 0; p > 1 && n < 64; p, n = parent[p], n+1 {
			if p == root {
				out[pid] = true
				break
			}
		}
	}
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

var variants = []struct {
	name string
	args []string
}{{"preload", nil}, {"nopreload", []string{"-preload=false"}}}

func TestGracefulDrainOnSIGTERM(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := startServe(t, bin, false, append([]string{"-workers", "2"}, v.args...)...)
			client := &http.Client{Timeout: 20 * time.Second}
			pids := map[int]bool{}
			for range 8 {
				pid, err := answer(client, s.url+"/pid")
				if err != nil {
					t.Fatal(err)
				}
				pids[pid] = true
			}
			// Every python process under the server: workers and zygote.
			tree := descendants(s.cmd.Process.Pid)
			for pid := range pids {
				if !tree[pid] {
					t.Errorf("worker %d is not a descendant of wsgiserve %d (tree %v)", pid, s.cmd.Process.Pid, tree)
				}
			}
			wantTree := 2
			if v.name == "preload" {
				wantTree = 3 // the zygote too
			}
			if len(tree) != wantTree {
				t.Errorf("wsgiserve has %d descendant processes; want %d:", len(tree), wantTree)
				for pid := range tree {
					t.Logf("  %d: %s", pid, cmdline(pid))
				}
			}

			type result struct {
				pid int
				err error
				at  time.Time
			}
			slow := make(chan result, 1)
			start := time.Now()
			go func() {
				pid, err := answer(client, s.url+"/sleep?s=2")
				slow <- result{pid, err, time.Now()}
			}()
			time.Sleep(500 * time.Millisecond) // the slow request is running
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// New connections are refused soon after SIGTERM.
			r := <-slow
			if r.err != nil {
				t.Fatalf("the request in flight at SIGTERM failed: %v", r.err)
			}
			if d := r.at.Sub(start); d < 2*time.Second {
				t.Errorf("the slow request finished after %v; want >= 2s (it sleeps)", d)
			}
			pids[r.pid] = true
			select {
			case <-s.waited:
			case <-time.After(15 * time.Second):
				t.Fatal("wsgiserve did not exit within 15s of SIGTERM")
			}
			if s.waitErr != nil {
				t.Errorf("wsgiserve exited with %v after SIGTERM; want exit status 0", s.waitErr)
			}
			for pid := range tree {
				pids[pid] = true
			}
			for pid := range pids {
				if st, _ := procState(pid); st != "" {
					t.Errorf("process %d (state %s: %s) is left after wsgiserve exited", pid, st, cmdline(pid))
				}
			}
			if !strings.Contains(s.stderr.String(), "shutting down") {
				t.Errorf("no shutdown logged")
			}
		})
	}
}

func TestNoOrphansAfterKill9(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := startServe(t, bin, true, append([]string{"-workers", "2"}, v.args...)...)
			resp, err := http.Get(s.opsURL + "/status?format=json")
			if err != nil {
				t.Fatal(err)
			}
			var st struct {
				Workers []struct {
					PID int `json:"pid"`
				} `json:"workers"`
				Preload bool `json:"preload"`
			}
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Workers) != 2 || st.Preload != (v.name == "preload") {
				t.Fatalf("status: %+v; want 2 workers, preload %v", st, v.name == "preload")
			}
			// A request in flight when the server dies must not keep its
			// worker alive either.
			go answer(&http.Client{Timeout: 10 * time.Second}, s.url+"/sleep?s=5")
			time.Sleep(300 * time.Millisecond)

			tree := descendants(s.cmd.Process.Pid)
			for _, w := range st.Workers {
				if !tree[w.PID] {
					t.Errorf("worker %d is not a descendant of wsgiserve %d", w.PID, s.cmd.Process.Pid)
				}
			}
			want := 2
			if st.Preload {
				want = 3
			}
			if len(tree) < want {
				t.Errorf("wsgiserve has %d descendants %v; want %d (workers%s)", len(tree), tree, want,
					map[bool]string{true: " and zygote"}[st.Preload])
			}
			if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-s.waited
			deadline := time.Now().Add(3 * time.Second)
			for {
				var left []int
				for pid := range tree {
					if running(pid) {
						left = append(left, pid)
					}
				}
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					for _, pid := range left {
						st, ppid := procState(pid)
						t.Errorf("process %d (state %s, parent %d: %s) outlived kill -9 of wsgiserve by 3s", pid, st, ppid, cmdline(pid))
						syscall.Kill(pid, syscall.SIGKILL)
					}
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestEarlySignals: a SIGHUP while the app still imports (a reload asked
// by systemd, a log rotation) and a stderr whose reader went away (a
// restarted log shipper) leave the server up: before, the first ended the
// process (SIGHUP's default action, until Serve took the signals over) and
// the second did on its next log line (SIGPIPE on standard error).
func TestEarlySignals(t *testing.T) {
	bin := opstest.Build(t, "wsgiserve")
	dir := t.TempDir()
	app := "import time\ntime.sleep(1.5)  # a slow import\n\ndef app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'ok']\n"
	if err := os.WriteFile(filepath.Join(dir, "slowapp.py"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "slowapp:app", "-chdir", dir, "-bind", "127.0.0.1:0", "-python", pythontest.Python(t), "-workers", "1")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	time.Sleep(500 * time.Millisecond) // the app is importing
	cmd.Process.Signal(syscall.SIGHUP)
	sc := bufio.NewScanner(r)
	var url string
	for url == "" && sc.Scan() {
		if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		select {
		case err := <-exited:
			t.Fatalf("wsgiserve exited during the import after a SIGHUP: %v", err)
		default:
			t.Fatal("wsgiserve did not listen")
		}
	}
	r.Close() // the log's reader goes away: every line now hits a broken pipe
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 {
		resp, body := get(t, client, url+"/")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d after the log's reader left: %d %q", i, resp.StatusCode, body)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// A mistake in the command line exits 2 naming its flag, a missing
// directory 1, by cli.Main's rule, before Python starts.
func TestUsageErrors(t *testing.T) {
	opstest.UsageErrors(t, func(args []string) error { return run(append([]string{"app:app"}, args...)) }, false)
}
