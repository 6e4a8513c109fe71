package wsgi

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
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
// in it is one ERROR record (stdiotraceback.go), as from the pipe; one
// that ends with the write that began it (a logging handler's record,
// traceback.print_exc in a worker) is logged at once, one written in
// pieces once its next line comes or it has been quiet for dumpQuiet (a
// chained exception's next part may follow). A
// record (LOG frame) logs a partial line written before it first: what
// came first is logged first.

// A write that a thread made while serving a request comes with the
// request's id (flagRequestID): its record carries it as request.id, as
// the request's LOG records do. Every STDIO and LOG frame also names the
// thread that made it, in its header's stream field (worker.py's
// thread_key: 1 to 65535, 0 from a worker that does not say). The writes
// of each thread and id are gathered apart, and their tracebacks read
// apart, so that the lines of threads writing at once are not mixed up
// (print writes its text, then the newline; traceback.print_exc writes
// line by line): the threads serving requests, and the app's own threads,
// which have no id to tell them apart. A record logs the partial line and
// the traceback of its own thread before it, not those of others.

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
	out     *outputLog     // remembers the lines, to explain a process that dies before it is ready
	streams []*stdioStream // per request id, in the order they began; only those with something pending
	spare   *stdioStream   // a stream that was emptied, to reuse its buffer
	quiet   *time.Timer    // logs a traceback once its stream has been quiet for dumpQuiet
}

// stdioStream is what was written with one request id ("" none) and is
// not logged yet.
type stdioStream struct {
	thread  uint16 // the writing thread's key, 0 for unknown
	id      string
	pending []byte          // writes not yet ending a line
	tb      *stdioTraceback // a traceback being read
	tbLast  time.Time       // when its last line came
}

func newStdioLog(log *slog.Logger, out *outputLog) *stdioLog {
	return &stdioLog{log: log, out: out}
}

// parseStdioFrame splits a STDIO frame's payload, given its flags, into
// the request id ("" without flagRequestID) and the bytes written.
func parseStdioFrame(flags byte, payload []byte) (id string, p []byte, err error) {
	if flags&flagRequestID == 0 {
		return "", payload, nil
	}
	i := bytes.IndexByte(payload, 0)
	switch {
	case i < 0:
		return "", payload, badStdioFrame("no NUL after the request id", payload)
	case i == 0:
		return "", payload, badStdioFrame("empty request id", payload)
	}
	return string(payload[:i]), payload[i+1:], nil
}

// badStdioFrame is a parseStdioFrame error: why, and the start of the
// payload.
func badStdioFrame(why string, payload []byte) error {
	return errors.New("wsgi: malformed STDIO frame: " + why + " (payload " + quoteStart(payload) + ")")
}

// write takes a STDIO frame's thread key (its header's stream field),
// flags and payload: one write (or a piece of a long one). A malformed
// frame is logged as a WARN line saying what is wrong with it, and its
// payload as written text, without an id.
func (s *stdioLog) write(thread uint16, flags byte, payload []byte) {
	id, p, err := parseStdioFrame(flags, payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.log.Warn("wsgi: a worker sent a malformed STDIO frame", slog.String(logError, err.Error()))
	}
	st := s.stream(thread, id)
	st.pending = append(st.pending, p...)
	n := len(st.pending)
	switch {
	case n == 0:
	case st.pending[n-1] == '\n':
		s.emit(st, st.pending)
		st.pending = st.pending[:0]
	case n >= stdioMaxPending:
		i := bytes.LastIndexByte(st.pending, '\n')
		if i < 0 {
			i = n - 1 // no line ends: all of it
		}
		s.emit(st, st.pending[:i+1])
		st.pending = st.pending[:copy(st.pending, st.pending[i+1:])]
	}
	if cap(st.pending) > 2*stdioMaxPending {
		st.pending = nil // do not keep one huge write's buffer
	}
	s.drop()
}

// stream returns the stream of thread and id, adding it. The caller holds
// s.mu.
func (s *stdioLog) stream(thread uint16, id string) *stdioStream {
	for _, st := range s.streams {
		if st.thread == thread && st.id == id {
			return st
		}
	}
	st := s.spare
	if st == nil {
		st = &stdioStream{}
	}
	s.spare = nil
	st.thread, st.id = thread, id
	s.streams = append(s.streams, st)
	return st
}

// drop forgets the streams with nothing pending. The caller holds s.mu.
func (s *stdioLog) drop() {
	s.streams = slices.DeleteFunc(s.streams, func(st *stdioStream) bool {
		if len(st.pending) > 0 || st.tb != nil {
			return false
		}
		if s.spare == nil {
			*st = stdioStream{pending: st.pending}
			s.spare = st
		}
		return true
	})
}

// record logs a LOG frame's record (its thread key, flags and payload),
// after the partial lines and the tracebacks its thread wrote before it
// (every thread's, from a worker that does not name its threads).
func (s *stdioLog) record(thread uint16, flags byte, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked(thread)
	logRecord(s.log, flags, payload)
}

// close logs what is left: the process's socket has ended.
func (s *stdioLog) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked(0)
	if s.quiet != nil {
		s.quiet.Stop()
	}
}

// flushLocked logs the partial lines and the tracebacks being read of
// thread (of every thread for 0).
func (s *stdioLog) flushLocked(thread uint16) {
	for _, st := range s.streams {
		if thread != 0 && st.thread != thread {
			continue
		}
		if len(st.pending) > 0 {
			s.emit(st, st.pending)
			st.pending = st.pending[:0]
		}
		st.tb.log(s.log)
		st.tb = nil
	}
	s.drop()
}

// emit logs b, the writes of st gathered up to the end of a line (or
// cut): its text is one record, less the line end, except the lines of a
// traceback. The caller holds s.mu.
func (s *stdioLog) emit(st *stdioStream, b []byte) {
	text := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	var plain []string // lines of the record being gathered
	flush := func() {
		if len(plain) == 0 {
			return
		}
		if st.id != "" {
			s.log.Info(strings.Join(plain, "\n"), slog.String("graft.stream", "stdio"), slog.String(logRequestID, st.id))
		} else {
			s.log.Info(strings.Join(plain, "\n"), slog.String("graft.stream", "stdio"))
		}
		plain = plain[:0]
	}
	began := false // the traceback being read began in b
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		s.out.remember(line)
		if st.tb != nil {
			if st.tb.add(line) {
				continue
			}
			st.tb.log(s.log)
			st.tb = nil
		}
		if isTracebackHeader(line) {
			flush()
			st.tb = newStdioTraceback(line)
			st.tb.requestID = st.id
			began = true
			continue
		}
		plain = append(plain, line)
	}
	flush()
	if began && st.tb != nil && st.tb.exc != "" && !st.tb.chain {
		// A traceback written whole, up to its exception line, in one
		// write: a logging handler's record, format_exc's text, the
		// worker's traceback.print_exception. Its writer had all of it:
		// logged now, not after dumpQuiet.
		st.tb.log(s.log)
		st.tb = nil
	}
	if st.tb != nil {
		st.tbLast = time.Now()
		if s.quiet == nil {
			s.quiet = time.AfterFunc(dumpQuiet, s.quietOver)
		} else {
			s.quiet.Reset(dumpQuiet)
		}
	}
}

// quietOver logs each traceback being read once no line of it has come
// for dumpQuiet.
func (s *stdioLog) quietOver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var wait time.Duration // until the next traceback's quiet is over
	for _, st := range s.streams {
		if st.tb == nil {
			continue
		}
		if d := time.Since(st.tbLast); d < dumpQuiet {
			if wait == 0 || dumpQuiet-d < wait {
				wait = dumpQuiet - d
			}
			continue
		}
		st.tb.log(s.log)
		st.tb = nil
	}
	if wait > 0 {
		s.quiet.Reset(wait)
	}
	s.drop()
}
