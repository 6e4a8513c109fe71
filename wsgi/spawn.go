package wsgi

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// workerSource is the worker program, run by each worker's interpreter.
//
//go:embed worker.py
var workerSource []byte

// bootstrap is the interpreter's -c program: it reads the worker program
// from file descriptor 4 and runs it as __main__, so nothing is written to
// disk. Tracebacks name "graft-worker.py" and show its source lines, which
// are put in linecache's cache (an entry without mtime is never dropped).
const bootstrap = `import linecache
with open(4, "rb") as f:
    src = f.read()
linecache.cache["graft-worker.py"] = (len(src), None, src.decode("utf-8").splitlines(True), "graft-worker.py")
exec(compile(src, "graft-worker.py", "exec"))
`

// programTitle is the first line of the -c program: a comment naming
// graft and the app, so that ps, top and systemctl status, which show the
// command line from its start, say what the process is (the zygote's
// workers inherit its line). An app spec with a line break (which
// CheckApp refuses) is left out, so the comment stays one line.
func programTitle(app string) string {
	if strings.ContainsAny(app, "\r\n") {
		app = ""
	}
	return "# graft worker: " + app + "\n"
}

// pythonCmd builds the command that runs the worker program in mode
// ("worker" or "zygote") with extra files from fd 3 on; the program itself
// arrives on the last of them, through the returned pipe.
func (pl *pool) pythonCmd(mode string, out *os.File, files ...*os.File) (*exec.Cmd, error) {
	cfg := pl.cfg
	path, err := exec.LookPath(cfg.Python)
	if err != nil {
		return nil, fmt.Errorf("wsgi: python interpreter %q: %w", cfg.Python, err)
	}
	srcR, srcW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "."
	}
	// The identity hook ("" for none) is loaded with the app, so that one
	// that cannot be loaded fails the start (worker.py's main).
	args := []string{cfg.Python, "-c", programTitle(cfg.App) + bootstrap, mode, cfg.App, strconv.Itoa(cfg.Threads), boolArg(cfg.Workers > 1),
		strconv.Itoa(bodyFrameSize(cfg.ResponseBuffer)), cfg.IdentityHook, dir}
	args = append(args, cfg.PythonPath...)
	cmd := &exec.Cmd{
		Path:        path,
		Args:        args,
		Dir:         cfg.Dir,
		Env:         append(append(os.Environ(), cfg.Env...), "PYTHONUNBUFFERED=1"),
		Stdout:      out,
		Stderr:      out,
		ExtraFiles:  append(files, srcR), // fd 3: socket; fd 4: the program
		SysProcAttr: sysProcAttr(),
	}
	if err := pl.spawn(cmd); err != nil {
		srcR.Close()
		srcW.Close()
		if cfg.Dir != "" && !errors.Is(err, ErrClosed) {
			// exec reports a Dir that is gone as the interpreter missing
			// ("fork/exec /usr/bin/python3: no such file or directory").
			if derr := CheckDir(cfg.Dir); derr != nil {
				return nil, derr
			}
		}
		return nil, fmt.Errorf("wsgi: start %s: %w", cfg.Python, err)
	}
	srcR.Close()
	go func() {
		srcW.Write(workerSource)
		srcW.Close()
	}()
	return cmd, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// spawner starts processes from one OS thread that never exits. Linux
// delivers Pdeathsig (see sysProcAttr) when the thread that forked a child
// exits, not the process, so workers forked from an arbitrary goroutine's
// thread could be killed early if the Go runtime retired that thread.
type spawner struct {
	mu     sync.Mutex
	closed bool
	reqs   chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq)}
	go func() {
		runtime.LockOSThread() // never unlocked: this thread lives with the process
		for r := range s.reqs {
			r.done <- r.cmd.Start()
		}
	}()
	return s
}

// start runs cmd.Start on the spawner's thread. After stop it fails with
// ErrClosed.
func (s *spawner) start(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.reqs <- spawnReq{cmd: cmd, done: done} // the spawner always receives
	s.mu.Unlock()
	return <-done
}

// stop ends the spawner goroutine; its thread is then discarded by the
// runtime, which is harmless once no worker remains.
func (s *spawner) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.reqs)
	}
}
