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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	f, err := ln.(*net.TCPListener).File()
	ln.Close() // f keeps the socket listening
	if err != nil {
		t.Fatal(err)
	}
	return addr, GunicornOn(t, f, nil, dir, app, args...)
}

// GunicornOn runs gunicorn as [Gunicorn] does, on the listening socket f
// (TCP or Unix, closed here once gunicorn has it) with env added to its
// environment. args come after graft's defaults, so they override them
// ("--workers", "2").
func GunicornOn(t testing.TB, f *os.File, env []string, dir, app string, args ...string) (logs *Buffer) {
	t.Helper()
	py := Python(t, "gunicorn")
	logs = &Buffer{}
	argv := append([]string{"-m", "gunicorn", "--bind", "fd://3", "--workers", "1",
		"--chdir", dir, "--log-level", "warning", "--graceful-timeout", "5"}, args...)
	cmd := exec.Command(py, append(argv, app)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = logs, logs
	err := cmd.Start()
	f.Close()
	if err != nil {
		t.Fatalf("start gunicorn: %v", err)
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
			t.Logf("gunicorn log:\n%s", logs)
		}
	})
	return logs
}
