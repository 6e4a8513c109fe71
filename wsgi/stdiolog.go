package wsgi

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// What Python code writes to sys.stdout and sys.stderr reaches Go as STDIO
// frames on the process's socket, one per write (worker.py's StdioRaw),
// beside the LOG frames of its logging records: read from one socket by
// one reader at a time, prints and records are logged in the order the
// app made them. Through the output pipe, which Go reads apart from the
// socket, print, logging.warning, print could come out as print, print,
// record. The pipe is still read (output.go) for what does not go through
// sys.stdout: C code, child processes, faulthandler's dumps.
//
// Writes are gathered until one ends a line; what they hold then is one
// record, of several lines if need be (a multi-line write, the print of a
// multi-line string: print writes the text, then its newline), rather than
// a record per line, which is all the pipe could give. A Python traceback
// in it is one ERROR record (stdiotraceback.go), as from the pipe. A
// record (LOG frame) logs a partial line written before it first: what
// came first is logged first.

// stdioMaxPending bounds the bytes of writes gathered without ending a
// line: at this size, what they hold is logged, up to their last newline
// if they have one (a line longer than this is logged in pieces, as from
// the pipe).
const stdioMaxPending = 64 << 10

// stdioLog logs the STDIO and LOG frames of one process. Its methods are
// called by whoever reads the socket, and by its timer.
type stdioLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	out     *outputLog      // remembers the lines, to explain a process that dies before it is ready
	pending []byte          // writes not yet ending a line
	tb      *stdioTraceback // a traceback being read
	tbLast  time.Time       // when its last line came
	quiet   *time.Timer     // logs tb once the output has been quiet for dumpQuiet
}

func newStdioLog(log *slog.Logger, out *outputLog) *stdioLog {
	return &stdioLog{log: log, out: out}
}

// write takes a STDIO frame's payload: one write (or a piece of a long one).
func (s *stdioLog) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, p...)
	n := len(s.pending)
	switch {
	case n == 0:
		return
	case s.pending[n-1] == '\n':
		s.emit(s.pending)
		s.pending = s.pending[:0]
	case n >= stdioMaxPending:
		i := bytes.LastIndexByte(s.pending, '\n')
		if i < 0 {
			i = n - 1 // no line ends: all of it
		}
		s.emit(s.pending[:i+1])
		s.pending = s.pending[:copy(s.pending, s.pending[i+1:])]
	default:
		return // a partial line: wait for its end
	}
	if cap(s.pending) > 2*stdioMaxPending {
		s.pending = nil // do not keep one huge write's buffer
	}
}

// record logs a LOG frame's record (its flags and payload), after the
// partial line and the traceback written before it.
func (s *stdioLog) record(flags byte, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	logRecord(s.log, flags, payload)
}

// close logs what is left: the process's socket has ended.
func (s *stdioLog) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	if s.quiet != nil {
		s.quiet.Stop()
	}
}

// flushLocked logs the partial line and the traceback being read.
func (s *stdioLog) flushLocked() {
	if len(s.pending) > 0 {
		s.emit(s.pending)
		s.pending = s.pending[:0]
	}
	s.tb.log(s.log)
	s.tb = nil
}

// emit logs b, the writes gathered up to the end of a line (or cut): its
// text is one record, less the line end, except the lines of a traceback.
// The caller holds s.mu.
func (s *stdioLog) emit(b []byte) {
	text := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	var plain []string // lines of the record being gathered
	flush := func() {
		if len(plain) > 0 {
			s.log.Info(strings.Join(plain, "\n"), slog.String("graft.stream", "stdio"))
			plain = plain[:0]
		}
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		s.out.remember(line)
		if s.tb != nil {
			if s.tb.add(line) {
				continue
			}
			s.tb.log(s.log)
			s.tb = nil
		}
		if isTracebackHeader(line) {
			flush()
			s.tb = newStdioTraceback(line)
			continue
		}
		plain = append(plain, line)
	}
	flush()
	if s.tb != nil {
		s.tbLast = time.Now()
		if s.quiet == nil {
			s.quiet = time.AfterFunc(dumpQuiet, s.quietOver)
		} else {
			s.quiet.Reset(dumpQuiet)
		}
	}
}

// quietOver logs the traceback being read once no line of it has come
// for dumpQuiet.
func (s *stdioLog) quietOver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tb == nil {
		return
	}
	if d := time.Since(s.tbLast); d < dumpQuiet {
		s.quiet.Reset(dumpQuiet - d)
		return
	}
	s.tb.log(s.log)
	s.tb = nil
}
