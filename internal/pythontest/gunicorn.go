package pythontest

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Gunicorn runs a real gunicorn (Python's, as `python -m gunicorn`) with
// one worker serving app (module:callable) from dir, on a listener on
// 127.0.0.1 handed over as fd 3, so that it is listening when Gunicorn
// returns (the first request waits for gunicorn to boot). args are more
// gunicorn options. It returns the listener's address and gunicorn's log,
// which is logged if the test fails. gunicorn stops (SIGINT) when the test
// ends. The test fails, with the apt-get line to run, if gunicorn is not
// importable.
func Gunicorn(t testing.TB, dir, app string, args ...string) (addr string, logs *Buffer) {
	t.Helper()
	addr, f := listen(t)
	return addr, GunicornOn(t, f, nil, dir, app, args...)
}

// GunicornOn runs gunicorn as [Gunicorn] does, on the listening socket f
// (TCP or Unix, closed here once gunicorn has it) with env added to its
// environment. args come after graft's defaults, so they override them
// ("--workers", "2").
func GunicornOn(t testing.TB, f *os.File, env []string, dir, app string, args ...string) (logs *Buffer) {
	t.Helper()
	py := Python(t, "gunicorn")
	argv := append([]string{"-m", "gunicorn", "--bind", "fd://3", "--workers", "1",
		"--chdir", dir, "--log-level", "warning", "--graceful-timeout", "5"}, args...)
	cmd := exec.Command(py, append(argv, app)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return startOn(t, "gunicorn", cmd, f)
}

// listen opens a TCP listener on 127.0.0.1 and returns its address and
// its socket as a file to hand to a server; the listener itself is
// closed, the file keeps the socket listening.
func listen(t testing.TB) (string, *os.File) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), f
}

// startOn starts cmd, a server named name, with the listening socket f
// as its fd 3 (f is closed here once the server has it), and returns its
// output. The server is stopped (SIGINT, then SIGKILL after 15 s) when t
// ends, and its output logged if t failed.
func startOn(t testing.TB, name string, cmd *exec.Cmd, f *os.File) (logs *Buffer) {
	t.Helper()
	logs = &Buffer{}
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = logs, logs
	err := cmd.Start()
	f.Close()
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, logs)
		}
	})
	return logs
}
