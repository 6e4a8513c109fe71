package wsgi

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one Python worker process and the Go side of its socket.
type proc struct {
	pool    *pool
	cmd     *exec.Cmd
	pid     int
	conn    *net.UnixConn
	started time.Time
	log     *slog.Logger

	wmu sync.Mutex // serialises writes to conn

	mu      sync.Mutex
	streams map[uint16]*stream
	nextID  uint16
	seq     uint64 // requests sent so far
	running uint64 // at death: seq of the oldest unfinished request

	inflight int          // requests sent and not finished; guarded by pool.mu
	retired  atomic.Bool  // takes no new requests (dying or shutting down)
	ewma     atomic.Int64 // smoothed request time in ns, for the prefetch gate

	ready    chan error    // startup result: nil once READY, else why not
	dead     chan struct{} // closed when the worker is gone
	exited   chan struct{} // closed when the process has been reaped
	exitErr  error
	served   atomic.Int64
	killOnce sync.Once
}

// startProc starts one worker process and its reader goroutine. It returns
// before the app is imported; wait on p.ready.
func (pl *pool) startProc() (*proc, error) {
	cfg := pl.cfg
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("wsgi: socketpair: %w", err)
	}
	parentF := os.NewFile(uintptr(fds[0]), "graft-worker-socket")
	childF := os.NewFile(uintptr(fds[1]), "graft-worker-socket-child")
	defer childF.Close()
	fc, err := net.FileConn(parentF)
	parentF.Close()
	if err != nil {
		return nil, fmt.Errorf("wsgi: socket: %w", err)
	}
	conn := fc.(*net.UnixConn)

	// The worker program reaches Python through a pipe, so nothing is
	// written to disk.
	srcR, srcW, err := os.Pipe()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	defer srcR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		conn.Close()
		srcW.Close()
		return nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	defer outW.Close()

	args := []string{cfg.Python, "-c", bootstrap, cfg.App, strconv.Itoa(cfg.Threads), boolArg(cfg.Workers > 1)}
	if cfg.Dir != "" {
		args = append(args, cfg.Dir)
	} else {
		args = append(args, ".")
	}
	args = append(args, cfg.PythonPath...)
	cmd := &exec.Cmd{
		Path:       cfg.Python,
		Args:       args,
		Dir:        cfg.Dir,
		Env:        append(append(os.Environ(), cfg.Env...), "PYTHONUNBUFFERED=1"),
		Stdout:     outW,
		Stderr:     outW,
		ExtraFiles: []*os.File{childF, srcR}, // fd 3: socket, fd 4: program
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,            // terminal signals go to Go, which decides
			Pdeathsig: syscall.SIGKILL, // never outlive the Go process
		},
	}
	if lp, err := exec.LookPath(cfg.Python); err == nil {
		cmd.Path = lp
	} else {
		conn.Close()
		srcW.Close()
		outR.Close()
		return nil, fmt.Errorf("wsgi: python interpreter %q: %w", cfg.Python, err)
	}
	if err := pl.spawn(cmd); err != nil {
		conn.Close()
		srcW.Close()
		outR.Close()
		return nil, fmt.Errorf("wsgi: start %s: %w", cfg.Python, err)
	}
	go func() {
		srcW.Write(workerSource)
		srcW.Close()
	}()
	p := &proc{
		pool:    pl,
		cmd:     cmd,
		pid:     cmd.Process.Pid,
		conn:    conn,
		started: time.Now(),
		streams: make(map[uint16]*stream),
		ready:   make(chan error, 1),
		dead:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	p.log = cfg.Logger.With(slog.Int("worker", p.pid))
	go p.logOutput(outR)
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
		// The socket's EOF normally wakes the reader first; closing the
		// socket here covers a worker whose descendants keep it open.
		p.conn.Close()
	}()
	go p.readLoop()
	return p, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// logOutput logs the worker's stdout and stderr line by line: prints,
// warnings, faulthandler's stack dumps.
func (p *proc) logOutput(r *os.File) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.log.Info(sc.Text(), slog.String("stream", "stdio"))
	}
}

// readLoop reads the worker's frames until its socket closes, then retires
// it.
func (p *proc) readLoop() {
	fc := newFrameConn(p.conn)
	err := p.read(fc)
	fc.closeFDs()
	p.die(err)
}

func (p *proc) read(fc *frameConn) error {
	limit := int64(p.pool.cfg.ResponseBuffer)
	started := false
	for {
		h, payload, err := fc.next()
		if err != nil {
			if !started {
				p.ready <- fmt.Errorf("wsgi: worker %d exited before loading the app: %w", p.pid, err)
			}
			return err
		}
		switch h.kind {
		case frameReady:
			started = true
			p.ready <- nil
			continue
		case frameFail:
			started = true
			p.ready <- &LoadError{App: p.pool.cfg.App, Traceback: string(payload)}
			return errors.New("app failed to load")
		case frameLog:
			p.logRecord(payload)
			continue
		}
		s := p.stream(h.stream)
		if s == nil {
			if h.kind == frameFile {
				if f, err := fc.takeFD("file"); err == nil {
					f.Close()
				}
			}
			continue // a late frame for a request Go gave up on
		}
		switch h.kind {
		case frameResp:
			if len(payload) < 4 {
				return fmt.Errorf("%w: short RESP", ErrProtocol)
			}
			n := binary.LittleEndian.Uint32(payload)
			if uint64(n) > uint64(len(payload)-4) {
				return fmt.Errorf("%w: bad RESP head length", ErrProtocol)
			}
			status, hdr, err := parseHead(payload[4 : 4+n])
			if err != nil {
				return err
			}
			body := append([]byte(nil), payload[4+n:]...)
			p.done(s, Part{Kind: PartResponse, Status: status, Header: hdr, Data: body})
		case frameHead:
			status, hdr, err := parseHead(payload)
			if err != nil {
				return err
			}
			s.push(Part{Kind: PartHead, Status: status, Header: hdr}, limit)
		case frameData:
			s.push(Part{Kind: PartData, Data: append([]byte(nil), payload...)}, limit)
		case frameFile:
			if len(payload) < 16 {
				return fmt.Errorf("%w: short FILE", ErrProtocol)
			}
			f, err := fc.takeFD("wsgi.file_wrapper")
			if err != nil {
				return err
			}
			s.push(Part{Kind: PartFile, File: f,
				Offset: int64(binary.LittleEndian.Uint64(payload)),
				Count:  int64(binary.LittleEndian.Uint64(payload[8:]))}, limit)
		case frameEnd:
			var err error
			var tb string
			if h.flags&flagAbort != 0 {
				err, tb = ErrAppError, string(payload)
			}
			p.done(s, Part{Kind: PartEnd, Err: err, Traceback: tb})
		case frameError:
			p.done(s, Part{Kind: PartEnd, Err: ErrAppError, Traceback: string(payload)})
		default:
			return fmt.Errorf("%w: unknown frame type %d", ErrProtocol, h.kind)
		}
	}
}

// logRecord logs a Python logging record sent as a LOG frame.
func (p *proc) logRecord(payload []byte) {
	lvl, rest, _ := strings.Cut(string(payload), "\x00")
	name, msg, _ := strings.Cut(rest, "\x00")
	n, _ := strconv.Atoi(lvl)
	level := slog.LevelInfo
	switch {
	case n >= 40:
		level = slog.LevelError
	case n >= 30:
		level = slog.LevelWarn
	case n < 20:
		level = slog.LevelDebug
	}
	p.log.Log(context.Background(), level, msg, slog.String("logger", name))
}

// stream returns the in-flight stream with id, or nil.
func (p *proc) stream(id uint16) *stream {
	p.mu.Lock()
	s := p.streams[id]
	p.mu.Unlock()
	return s
}

// done ends stream s with its final part and frees its slot.
func (p *proc) done(s *stream, final Part) {
	d := int64(time.Since(s.start))
	old := p.ewma.Load()
	p.ewma.Store(old - old/8 + d/8)
	s.finish(final)
	p.mu.Lock()
	delete(p.streams, s.id)
	p.mu.Unlock()
	p.served.Add(1)
	p.pool.release(p)
}

// send writes a request to the worker and registers its stream. The
// caller holds one of p's free slots.
func (p *proc) send(req *Request) (*stream, error) {
	p.mu.Lock()
	for {
		p.nextID++
		if _, busy := p.streams[p.nextID]; !busy {
			break
		}
	}
	s := &stream{
		id:    p.nextID,
		proc:  p,
		parts: make(chan Part, 4),
		space: make(chan struct{}, 1),
		gone:  make(chan struct{}),
		start: time.Now(),
	}
	p.seq++
	s.seq = p.seq
	p.streams[s.id] = s
	p.mu.Unlock()

	var flags byte
	buf := p.pool.bufs.get()
	defer p.pool.bufs.put(buf)
	b := append((*buf)[:0], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // header, env length
	b, lp := appendEnv(b, req.Env)
	if lp {
		flags |= flagEnvLP
	}
	binary.LittleEndian.PutUint32(b[frameHeaderSize:], uint32(len(b)-frameHeaderSize-4))
	if req.BodyFile != nil {
		flags |= flagBodyFD
	} else {
		b = append(b, req.Body...)
	}
	*buf = b
	if len(b)-frameHeaderSize > maxFrame {
		p.forget(s)
		return nil, fmt.Errorf("wsgi: request too large for one frame")
	}
	putFrameHeader(b, frameHeader{kind: frameReq, flags: flags, stream: s.id, length: uint32(len(b) - frameHeaderSize)})
	if req.Timeout > 0 {
		s.timer = time.AfterFunc(req.Timeout, func() { p.timeout(s) })
	}
	p.wmu.Lock()
	err := writeAll(p.conn, b, req.BodyFile)
	p.wmu.Unlock()
	if err != nil {
		if s.timer != nil {
			s.timer.Stop()
		}
		// The worker is gone or broken; its reader retires it.
		p.kill()
		return s, nil // Next reports ErrWorkerDied once the reader notices
	}
	return s, nil
}

// forget unregisters a stream that never reached the worker.
func (p *proc) forget(s *stream) {
	p.mu.Lock()
	delete(p.streams, s.id)
	p.mu.Unlock()
	p.pool.release(p)
}

// cancel tells the worker that the client of stream id went away.
func (p *proc) cancel(id uint16) {
	var b [frameHeaderSize]byte
	putFrameHeader(b[:], frameHeader{kind: frameCancel, stream: id})
	p.wmu.Lock()
	p.conn.SetWriteDeadline(time.Now().Add(time.Second))
	p.conn.Write(b[:])
	p.conn.SetWriteDeadline(time.Time{})
	p.wmu.Unlock()
}

// timeout handles a request over its time limit: it dumps the worker's
// Python stacks to the log (faulthandler on SIGUSR1), then kills the worker.
func (p *proc) timeout(s *stream) {
	select {
	case <-p.dead:
		return
	default:
	}
	s.timedOut.Store(true)
	p.log.Error("request timed out; dumping the worker's Python stacks and killing it",
		slog.Duration("timeout", p.pool.cfg.Timeout), slog.Duration("running", time.Since(s.start)))
	p.retire()
	p.cmd.Process.Signal(syscall.SIGUSR1)
	select {
	case <-p.exited:
	case <-time.After(500 * time.Millisecond):
	}
	p.kill()
}

// retire stops p from taking new requests.
func (p *proc) retire() { p.retired.Store(true) }

// prefetchBelow is the smoothed request time under which a worker may get
// a prefetched request.
const prefetchBelow = 10 * time.Millisecond

// fast reports whether p's requests are quick enough to prefetch for.
func (p *proc) fast() bool { return time.Duration(p.ewma.Load()) < prefetchBelow }

// kill stops the process now.
func (p *proc) kill() {
	p.killOnce.Do(func() {
		p.retire()
		p.cmd.Process.Kill()
		p.conn.Close()
	})
}

// die runs once when the reader stops: the worker is finished, whatever
// the reason. In-flight requests see it through p.dead.
func (p *proc) die(err error) {
	p.retire()
	p.mu.Lock()
	// Anything sent after the oldest unfinished request never started.
	// With none unfinished, anything sent after the last one never did.
	p.running = p.seq
	for _, s := range p.streams {
		p.running = min(p.running, s.seq)
	}
	p.mu.Unlock()
	close(p.dead)
	p.conn.Close()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.kill()
		<-p.exited
	}
	p.pool.gone(p, err)
}

// exitStatus describes how the process ended.
func (p *proc) exitStatus() string {
	if p.exitErr == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(p.exitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
	}
	return p.exitErr.Error()
}

var _ io.Closer = (*net.UnixConn)(nil)
