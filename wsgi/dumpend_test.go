package wsgi

import (
	"bufio"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestOutputDumpEnd: a stack dump read from the output pipe is one record
// up to the dumpEnd line worker.py writes after it, however long its
// pieces take to come: here pauses far longer than the pause that ends
// the dump of a process that does not write dumpEnd (a dump on a loaded
// machine came as several records, its frames as INFO lines). The pause
// that still ends a dump whose dumpEnd never comes is an hour here, so
// what the test sees does not depend on timing, but for the last case,
// which waits for it. dumpEnd itself is never logged.
func TestOutputDumpEnd(t *testing.T) {
	const (
		thread1 = "Thread 0x00007f0000000001 (most recent call first):\n" +
			"  File \"/srv/app/views.py\", line 3 in slow\n" +
			"  File \"/usr/lib/python3/threading.py\", line 975 in run\n"
		thread2 = "Current thread 0x00007f0000000002 (most recent call first):\n" +
			"  File \"/srv/graft/worker.py\", line 1300 in serve\n"
		end = dumpEnd + "\n"
	)
	stack := strings.TrimSuffix(thread1+"\n"+thread2, "\n")
	const pause = 2 * dumpQuiet // longer than the quiet that ends a dump without dumpEnd
	// A step writes its text, then pauses; or, with wait, waits for that
	// many records first.
	type step struct {
		write string
		wait  int
	}
	cases := []struct {
		name    string
		endWait time.Duration // the pause that ends a dump whose dumpEnd does not come
		steps   []step
		want    []string // "LEVEL msg" or "LEVEL msg | stack"
	}{
		{"pieces apart, ended by dumpEnd", time.Hour, []step{
			{write: end}, {write: "hello\n"},
			{write: thread1[:60]}, {write: thread1[60:]}, {write: "\n"}, {write: thread2},
			{write: end}, {write: "after\n"},
		}, []string{"INFO hello", "ERROR wsgi: Python stacks | " + stack, "INFO after"}},
		{"a line not of a dump ends it before dumpEnd", time.Hour, []step{
			{write: end}, {write: thread1}, {write: "printed by another thread\n"}, {write: end},
		}, []string{"ERROR wsgi: Python stacks | " + strings.TrimSuffix(thread1, "\n"), "INFO printed by another thread"}},
		{"two dumps, each ended by dumpEnd", time.Hour, []step{
			{write: end}, {write: thread1 + end}, {write: thread2 + end},
		}, []string{"ERROR wsgi: Python stacks | " + strings.TrimSuffix(thread1, "\n"), "ERROR wsgi: Python stacks | " + strings.TrimSuffix(thread2, "\n")}},
		{"no dumpEnd after a fatal signal's dump: EOF ends it", time.Hour, []step{
			{write: end}, {write: "Fatal Python error: Segmentation fault\n\n"}, {write: thread1}, {write: "\n" + thread2},
		}, []string{"INFO Fatal Python error: Segmentation fault", "INFO ", "ERROR wsgi: Python stacks | " + stack}},
		{"dumpEnd that never comes: the pause ends the dump", time.Millisecond, []step{
			{write: end}, {write: thread1}, {wait: 1}, {write: "after\n"},
		}, []string{"ERROR wsgi: Python stacks | " + strings.TrimSuffix(thread1, "\n"), "INFO after"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			logs := &pythontest.Buffer{}
			o := newOutputLog()
			o.quiet = [2]time.Duration{time.Millisecond, tc.endWait}
			go o.run(slog.New(slog.NewJSONHandler(logs, nil)), r)
			for _, s := range tc.steps {
				if s.wait > 0 {
					waitFor(t, 10*time.Second, "the dump logged", func() bool { return len(jsonRecords(t, logs.String())) >= s.wait })
					continue
				}
				if _, err := w.WriteString(s.write); err != nil {
					t.Fatal(err)
				}
				time.Sleep(pause)
			}
			w.Close()
			<-o.done
			var got []string
			for _, rec := range jsonRecords(t, logs.String()) {
				s := rec["level"].(string) + " " + rec["msg"].(string)
				if st, ok := rec[logStack].(string); ok {
					s += " | " + st
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// dumpEndScript runs worker.py's stack-dump setup (install_dumps,
// mark_dumps) as a worker does, then blocks its main thread reading a
// socket, as a worker waiting for Go's next frame: Python's own handler of
// SIGUSR1 does not run there (the read is restarted), so only mark_dumps's
// thread can say that a dump has ended.
const dumpEndScript = `
import importlib.util, socket, sys
spec = importlib.util.spec_from_file_location("graftworker", sys.argv[1])
w = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w)
w.install_dumps()
w.mark_dumps()
a, b = socket.socketpair()
print("ready", flush=True)
def blocked_reading_its_socket():
    a.recv(1)
blocked_reading_its_socket()
`

// TestWorkerDumpEnd: a real Python running worker.py's setup follows the
// stack dump SIGUSR1 asks for with dumpEnd, while its main thread is
// blocked in a read: with no pause ending a dump (an hour) and the
// process alive (no EOF), the dump is logged, as one record, only because
// dumpEnd came; dumpEnd itself is not logged.
func TestWorkerDumpEnd(t *testing.T) {
	py := pythontest.Python(t)
	src := filepath.Join(t.TempDir(), "graftworker.py")
	if err := os.WriteFile(src, workerSource, 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", dumpEndScript, src)
	cmd.Stderr = w
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := &pythontest.Buffer{}
	o := newOutputLog()
	o.quiet = [2]time.Duration{time.Hour, time.Hour}
	go o.run(slog.New(slog.NewJSONHandler(logs, nil)), r)
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the script did not start: %q, %v\n%s", line, err, logs)
	}

	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the dump logged, ended by dumpEnd", func() bool { return strings.Contains(logs.String(), logStack) })
	recs := jsonRecords(t, logs.String())
	// The main thread is in its read, or about to be (the signal may come
	// as it returns from the print): either way the stacks end with it.
	if len(recs) != 1 || !strings.Contains(recs[0][logStack].(string), "Current thread") ||
		!strings.Contains(recs[0][logStack].(string), "in run") {
		t.Errorf("want one record holding the whole dump; got:\n%s", logs)
	}
	cmd.Process.Kill()
	cmd.Wait()
	<-o.done
	if s := logs.String(); strings.Contains(s, dumpEnd) || len(jsonRecords(t, s)) != 1 {
		t.Errorf("after the process's end, want the one record, no %q:\n%s", dumpEnd, s)
	}
}

// TestImportDumpEnd: the stack dump of a process whose import hangs (what
// Go asks for past Config.StartTimeout) ends at dumpEnd too, in a worker
// and in a preload process: with no pause ending a dump (an hour) and the
// process alive, importing, the dump is logged, as one record holding the
// import's frame, only because dumpEnd came. Before, the graft-stacks
// thread started once the app was imported: a dump of the import ended
// only after 100 ms without a line, in pieces on a loaded machine (its
// later frames as INFO lines), or at the process's end.
func TestImportDumpEnd(t *testing.T) {
	py := pythontest.Python(t)
	src := filepath.Join(t.TempDir(), "graftworker.py")
	if err := os.WriteFile(src, workerSource, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"worker", "zygote"} {
		t.Run(mode, func(t *testing.T) {
			fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			ours, theirs := os.NewFile(uintptr(fds[0]), "go"), os.NewFile(uintptr(fds[1]), "worker")
			defer ours.Close()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(py, src, mode, "dumpimport:application", "1", "0", "65536", "", testdataDir(t))
			cmd.Stdout, cmd.Stderr = w, w
			cmd.ExtraFiles = []*os.File{theirs} // fd 3: the socket to Go
			cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			theirs.Close()
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			logs := &pythontest.Buffer{}
			o := newOutputLog()
			o.quiet = [2]time.Duration{time.Hour, time.Hour}
			go o.run(slog.New(slog.NewJSONHandler(logs, nil)), r)
			waitFor(t, 30*time.Second, "the import's dump logged, ended by dumpEnd", func() bool { return strings.Contains(logs.String(), logStack) })
			recs := jsonRecords(t, logs.String())
			if len(recs) != 1 || !strings.Contains(recs[0][logStack].(string), "graft_import_dumped_here") {
				t.Errorf("want one record holding the whole dump; got:\n%s", logs)
			}
			if cmd.ProcessState != nil {
				t.Errorf("the process ended: %v", cmd.ProcessState)
			}
		})
	}
}
