package wsgi

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// newProc prepares the Go side of a worker: its socket and output pipe.
// The caller starts the process on childSock and outW, then closes them.
func (pl *pool) newProc(g *gen) (p *proc, childSock, outW *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("wsgi: socketpair: %w", err)
	}
	parentF := os.NewFile(uintptr(fds[0]), "graft-worker-socket")
	childSock = os.NewFile(uintptr(fds[1]), "graft-worker-socket-child")
	fc, err := net.FileConn(parentF)
	parentF.Close()
	if err != nil {
		childSock.Close()
		return nil, nil, nil, fmt.Errorf("wsgi: socket: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		fc.Close()
		childSock.Close()
		return nil, nil, nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	p = &proc{
		pool:     pl,
		gen:      g,
		conn:     fc.(*net.UnixConn),
		started:  time.Now(),
		streams:  make(map[uint16]*stream),
		ready:    make(chan error, 1),
		dead:     make(chan struct{}),
		exited:   make(chan struct{}),
		limit:    pl.requestLimit(),
		lifetime: pl.lifetimeFor(),
	}
	p.log = pl.log
	p.out = outR
	p.output = newOutputLog()
	return p, childSock, outW, nil
}

// start begins serving once the process exists: p.pid is set.
func (p *proc) start() {
	p.log = p.pool.log.With(slog.Int("worker", p.pid))
	go p.output.run(p.log, p.out)
	go p.readLoop()
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
	args := []string{cfg.Python, "-c", bootstrap, mode, cfg.App, strconv.Itoa(cfg.Threads), boolArg(cfg.Workers > 1), dir}
	args = append(args, cfg.PythonPath...)
	cmd := &exec.Cmd{
		Path:       path,
		Args:       args,
		Dir:        cfg.Dir,
		Env:        append(append(os.Environ(), cfg.Env...), "PYTHONUNBUFFERED=1"),
		Stdout:     out,
		Stderr:     out,
		ExtraFiles: append(files, srcR), // fd 3: socket; fd 4: the program
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,            // terminal signals go to Go, which decides
			Pdeathsig: syscall.SIGKILL, // never outlive the Go process
		},
	}
	if err := pl.spawn(cmd); err != nil {
		srcR.Close()
		srcW.Close()
		return nil, fmt.Errorf("wsgi: start %s: %w", cfg.Python, err)
	}
	srcR.Close()
	go func() {
		srcW.Write(workerSource)
		srcW.Close()
	}()
	return cmd, nil
}

// startProc starts one worker of generation g: forked by g's zygote in
// preload mode, else a fresh interpreter. It returns before the app is
// imported; wait on p.ready.
func (pl *pool) startProc(g *gen) (*proc, error) {
	if g.zyg != nil {
		return g.zyg.fork()
	}
	p, childSock, outW, err := pl.newProc(g)
	if err != nil {
		return nil, err
	}
	defer childSock.Close()
	defer outW.Close()
	cmd, err := pl.pythonCmd("worker", outW, childSock)
	if err != nil {
		p.conn.Close()
		return nil, err
	}
	p.cmd, p.pid = cmd, cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		p.exitDesc = describeExit(err)
		close(p.exited)
		p.closeAfterExit()
	}()
	p.start()
	return p, nil
}

// signalDesc words a death by signal: "killed by signal 9 (killed)".
func signalDesc(sig syscall.Signal) string {
	return fmt.Sprintf("killed by signal %d (%s)", int(sig), sig)
}

// closeAfterExit closes the socket of a worker that has exited, once its
// reader has read what the worker sent before exiting (a FAIL frame, say):
// EOF normally ends the reader first; closing covers a worker whose
// descendants keep the socket open.
func (p *proc) closeAfterExit() {
	go func() {
		select {
		case <-p.dead:
		case <-time.After(time.Second):
			p.conn.Close()
		}
	}()
}

// describeExit says how a process ended, from cmd.Wait's error.
func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return signalDesc(ws.Signal())
		}
	}
	return err.Error()
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
