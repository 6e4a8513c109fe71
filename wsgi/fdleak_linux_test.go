package wsgi

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

// openFDs counts the Go process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestFailedStartClosesPipe: a worker that could not be started (the
// preload process's fork failed, or the interpreter could not be run)
// leaves no descriptor open. The read end of its output pipe was left to
// the garbage collector's finalizer: with the collector off (as between
// two collections of a busy process), each failure kept one more
// descriptor open.
func TestFailedStartClosesPipe(t *testing.T) {
	const tries = 10
	gcOff := func(t *testing.T) {
		old := debug.SetGCPercent(-1) // no finalizer closes what the code left open
		t.Cleanup(func() {
			debug.SetGCPercent(old)
			runtime.GC() // the garbage of the test, for the tests after it (TestHeapFloor measures the heap)
		})
	}
	t.Run("fork", func(t *testing.T) {
		a := startApp(t, "pid", Config{Env: []string{"PYTHONPATH=" + filepath.Join(testdataDir(t), "forkfail")}}, nil)
		z := poolOf(a.c).current().zygote()
		if z == nil {
			t.Fatal("no zygote with preload")
		}
		touch(t, a.dir, "forkfail") // the zygote's os.fork fails with EAGAIN
		gcOff(t)
		before := openFDs(t)
		for i := range tries {
			if p, err := z.fork(); err == nil {
				p.kill()
				t.Fatalf("fork %d succeeded; want the forced failure", i)
			}
		}
		if after := openFDs(t); after > before {
			t.Errorf("%d descriptors open before %d failed forks, %d after", before, tries, after)
		}
	})
	t.Run("exec", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "fdapp.py"), []byte("def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c, _ := newContainer(t, Config{App: "fdapp:app", Dir: dir, NoPreload: true})
		pl := poolOf(c)
		if err := os.RemoveAll(dir); err != nil { // pythonCmd now fails: Dir is gone
			t.Fatal(err)
		}
		gcOff(t)
		before := openFDs(t)
		for i := range tries {
			if p, err := pl.spawnProc(pl.current()); err == nil {
				p.kill()
				t.Fatalf("start %d succeeded; want a failure for the missing Dir", i)
			}
		}
		if after := openFDs(t); after > before {
			t.Errorf("%d descriptors open before %d failed starts, %d after", before, tries, after)
		}
	})
}
