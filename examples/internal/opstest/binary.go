package opstest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// listening matches the "listening" log line of an example and its URL.
var listening = regexp.MustCompile(`listening.* url.full=(http://[^ ]+?)/?(\s|$)`)

// adminConsole matches the "migration console" log line of an example
// with -admin-bind and the admin API's URL.
var adminConsole = regexp.MustCompile(`migration console.* url.full=(http://[^ ]+?)/?(\s|$)`)

// Build builds the command in the current directory with go build into a
// temporary directory, as name, and returns the binary's path.
func Build(t testing.TB, name string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// SingleBinary builds the example in the current directory with Build,
// copies the binary alone to an empty directory and runs it there with
// args, -python pythontest.Python(t) and -bind 127.0.0.1:0, its TMPDIR a
// fresh directory. It returns the server's base URL ("http://127.0.0.1:PORT").
// When the test ends the server gets SIGTERM; the test then fails if it
// did not exit or left anything in its TMPDIR (such as the app's copy).
func SingleBinary(t *testing.T, name string, args ...string) string {
	t.Helper()
	built := Build(t, name)
	empty := t.TempDir()
	bin := filepath.Join(empty, name)
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 1 {
		t.Fatalf("the run directory holds %d entries, want the binary alone", len(entries))
	}

	return Start(t, name, bin, empty).URL
}

// Server is a running example started by [Start].
type Server struct {
	// URL is the server's base URL ("http://127.0.0.1:PORT").
	URL string
	// Admin is the base URL of the migration's admin API and console
	// ("http://127.0.0.1:PORT"), from the "migration console" log line;
	// "" without -admin-bind.
	Admin string
}

// Start runs the example's binary bin in dir with args, -python
// pythontest.Python(t) and -bind 127.0.0.1:0, its TMPDIR a fresh
// directory, and returns it once it listens (and, with -admin-bind among
// args, once its admin API does). When the test ends the server gets
// SIGTERM; the test then fails if it did not exit or left anything in
// its TMPDIR (such as the app's copy).
func Start(t *testing.T, name, bin, dir string, args ...string) Server {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(bin, append([]string{"-python", pythontest.Python(t), "-bind", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var mu sync.Mutex
	var log strings.Builder
	logged := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	urls, admins := make(chan string, 1), make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			for _, f := range []struct {
				re *regexp.Regexp
				c  chan string
			}{{listening, urls}, {adminConsole, admins}} {
				if m := f.re.FindStringSubmatch(line); m != nil {
					select {
					case f.c <- strings.TrimSuffix(m[1], "/"):
					default:
					}
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not exit on SIGTERM", name)
		}
		if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s left %v in its TMPDIR", name, names)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, logged())
		}
	})
	wait := func(c chan string, what string) string {
		select {
		case u := <-c:
			return u
		case <-exited:
			t.Fatalf("%s exited before %s:\n%s", name, what, logged())
		case <-time.After(3 * time.Minute):
			t.Fatalf("%s did not start %s:\n%s", name, what, logged())
		}
		return ""
	}
	var s Server
	if slices.Contains(args, "-admin-bind") {
		s.Admin = wait(admins, "its admin API")
	}
	s.URL = wait(urls, "listening")
	return s
}
