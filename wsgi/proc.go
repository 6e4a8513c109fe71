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
	gen     *gen
	cmd     *exec.Cmd // nil for a worker forked by a zygote
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

	inflight     int          // requests sent and not finished; guarded by pool.mu
	retired      atomic.Bool  // takes no new requests (dying, recycled, shutting down)
	leaving      atomic.Bool  // retired on purpose: its exit needs no replacement
	recycling    atomic.Bool  // a replacement is being started
	timedOutKill atomic.Bool  // killed for a request timeout
	ewma         atomic.Int64 // smoothed request time in ns, for the prefetch gate

	ready    chan error    // startup result: nil once READY, else why not
	dead     chan struct{} // closed when the worker is gone
	exited   chan struct{} // closed when the process has been reaped
	exitDesc string        // how it ended, set before exited is closed
	served   atomic.Int64
	killOnce sync.Once
	limit    int64         // requests before recycling (max-requests + jitter); 0: none
	out      *os.File      // read end of the worker's stdout/stderr
	output   *outputLog    // what it printed
	lifetime time.Duration // age at which to recycle; 0: none
}

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

// outputLog logs a process's stdout and stderr line by line (prints,
// warnings, faulthandler's stack dumps) and keeps the last lines, to
// explain a process that dies before it is ready.
type outputLog struct {
	mu   sync.Mutex
	last []string
	done chan struct{} // closed at EOF
}

func newOutputLog() *outputLog { return &outputLog{done: make(chan struct{})} }

// run reads r until EOF. Lines longer than 64 KiB are logged in pieces.
func (o *outputLog) run(log *slog.Logger, r *os.File) {
	defer close(o.done)
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, _, err := br.ReadLine()
		if len(line) > 0 || err == nil {
			log.Info(string(line), slog.String("stream", "stdio"))
			o.mu.Lock()
			if len(o.last) == 20 {
				o.last = o.last[1:]
			}
			o.last = append(o.last, string(line))
			o.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// tail returns the last lines read, waiting up to a second for EOF.
func (o *outputLog) tail() string {
	select {
	case <-o.done:
	case <-time.After(time.Second):
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.last, "\n")
}

// startFailure explains a process that ended before loading the app: a
// *LoadError with its last output and how it ended.
func startFailure(app string, err error, out *outputLog, exit string) error {
	var le *LoadError
	if errors.As(err, &le) {
		return err
	}
	tb := out.tail()
	if tb != "" {
		tb += "\n"
	}
	return &LoadError{App: app, Traceback: tb + "the process ended before loading the app (" + exit + "): " + err.Error()}
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
			logRecord(p.log, payload)
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
func logRecord(log *slog.Logger, payload []byte) {
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
	log.Log(context.Background(), level, msg, slog.String("logger", name))
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
	p.pool.afterRequest(p)
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
		id:     p.nextID,
		proc:   p,
		parts:  make(chan Part, 4),
		space:  make(chan struct{}, 1),
		gone:   make(chan struct{}),
		start:  time.Now(),
		method: req.Method,
		path:   req.Path,
		reqID:  req.ID,
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
	if d := p.pool.cfg.SlowRequest; d > 0 {
		s.slow = time.AfterFunc(d, func() { p.slowRequest(s) })
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
	p.timedOutKill.Store(true)
	p.log.Error("wsgi: request timed out; the worker's Python stacks follow, then it is killed",
		slog.String("method", s.method), slog.String("path", s.path), slog.String("request_id", s.reqID),
		slog.Duration("timeout", p.pool.cfg.Timeout), slog.Duration("running", time.Since(s.start)))
	p.retire()
	p.signal(syscall.SIGUSR1)
	select {
	case <-p.exited:
	case <-time.After(500 * time.Millisecond):
	}
	p.kill()
}

// slowRequest logs a request that has run for Config.SlowRequest, with
// the worker's Python stacks (faulthandler dumps them on SIGUSR1 to the
// worker's stderr, which is logged).
func (p *proc) slowRequest(s *stream) {
	select {
	case <-p.dead:
		return
	default:
	}
	p.log.Warn("wsgi: slow request; the worker's Python stacks follow",
		slog.String("method", s.method), slog.String("path", s.path), slog.String("request_id", s.reqID),
		slog.Duration("running", time.Since(s.start)))
	p.signal(syscall.SIGUSR1)
}

// retire stops p from taking new requests.
func (p *proc) retire() { p.retired.Store(true) }

// prefetchBelow is the smoothed request time under which a worker may get
// a prefetched request.
const prefetchBelow = 10 * time.Millisecond

// fast reports whether a request may be prefetched to p: its requests
// are usually quick, and the ones it runs now have not been running long
// (so none of them is the rare slow one a request would wait behind).
func (p *proc) fast() bool {
	if time.Duration(p.ewma.Load()) >= prefetchBelow {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.streams {
		if time.Since(s.start) >= prefetchBelow/2 {
			return false
		}
	}
	return true
}

// kill stops the process now.
func (p *proc) kill() {
	p.killOnce.Do(func() {
		p.retire()
		p.signal(syscall.SIGKILL)
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

// exitStatus describes how the process ended, once it has.
func (p *proc) exitStatus() string {
	select {
	case <-p.exited:
		return p.exitDesc
	default:
		return "running"
	}
}

// signal sends sig to the worker process.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd != nil {
		p.cmd.Process.Signal(sig)
		return
	}
	select {
	case <-p.exited: // reaped: the pid may belong to someone else now
	default:
		syscall.Kill(p.pid, sig)
	}
}

var _ io.Closer = (*net.UnixConn)(nil)
