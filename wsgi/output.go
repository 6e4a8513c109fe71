package wsgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// outputLog logs a process's stdout and stderr line by line (prints,
// warnings; a child process's logging records, piperecord.go) and keeps
// the last lines, to explain a process that dies
// before it is ready. A Python traceback is one record
// (stdiotraceback.go). A Python stack dump (faulthandler's, on SIGUSR1 or a
// fatal signal) is gathered into one record whose graft.stack attribute
// holds the whole dump: at the level and with the attributes given by
// expectDump, the reason Go asked for it, else at ERROR.
//
// A dump ends at the dumpEnd line a worker writes after it, at a line that
// is not a dump's, or at EOF (a process killed after its dump, or dead of
// a fatal signal). Only when none of these comes does a pause end it:
// quiet, once a process has written dumpEnd (it will follow the dump,
// unless worker.py's mark_dumps could not run), else dumpQuiet.
type outputLog struct {
	mu     sync.Mutex
	last   []string
	expect *dumpReason      // why the next dump was asked for
	done   chan struct{}    // closed at EOF
	quiet  [2]time.Duration // the pause that ends a dump: without, with dumpEnd
}

// dumpReason is how a stack dump that Go asked for is logged.
type dumpReason struct {
	level slog.Level
	msg   string
	attrs []any
}

func newOutputLog() *outputLog {
	return &outputLog{done: make(chan struct{}), quiet: [2]time.Duration{dumpQuiet, dumpEndQuiet}}
}

// dumpQuiet is how long the end of a stack dump waits for another line of
// it before the dump is logged, from a process that does not write
// dumpEnd. faulthandler writes a dump at once, from a signal handler; a
// dump of a process that is then killed ends at EOF.
const dumpQuiet = 100 * time.Millisecond

// dumpEnd is the line worker.py writes after each stack dump on SIGUSR1
// (and once as it starts, to say that it does): the dump is whole, however
// long its lines took to come (a loaded machine). Never logged.
const dumpEnd = "graft: end of the Python stacks"

// dumpEndQuiet is the pause that ends a dump of a process that writes
// dumpEnd, should that not come: its thread never got the GIL back, or the
// app replaced the wakeup descriptor that wakes it.
const dumpEndQuiet = 5 * time.Second

// faulthandler's thread headers, and the lines of a dump after one: frames
// and "<no Python frame>" are indented, threads are separated by a blank
// line.
var (
	dumpHeader = regexp.MustCompile(`^(?:(?:Current thread|Thread) 0x[0-9a-fA-F]+|Stack) \(most recent call first\):$`)
)

func dumpContinues(line string) bool {
	return line == "" || strings.HasPrefix(line, "  ") || dumpHeader.MatchString(line)
}

// expectDump says how to log the next stack dump: Go is about to ask the
// process for one.
func (o *outputLog) expectDump(level slog.Level, msg string, attrs ...any) {
	o.mu.Lock()
	o.expect = &dumpReason{level: level, msg: msg, attrs: attrs}
	o.mu.Unlock()
}

// dumpMissing reports whether the dump expectDump announced has not been
// logged. Called after wait, once the process is gone: true then means
// the process never wrote it.
func (o *outputLog) dumpMissing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.expect != nil
}

// run reads r until EOF. Lines longer than 64 KiB are logged in pieces.
func (o *outputLog) run(log *slog.Logger, r *os.File) {
	defer close(o.done)
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		defer r.Close()
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, more, err := br.ReadLine()
			s := string(line)
			if more && line[0] == pipeRecord {
				// A child's logging record (piperecord.go): its line
				// whole, up to maxPipeRecord.
				buf := append([]byte(nil), line...)
				for more && len(buf) < maxPipeRecord {
					line, more, err = br.ReadLine()
					buf = append(buf, line...)
				}
				s = string(buf)
			}
			if len(s) > 0 || err == nil {
				lines <- s
			}
			if err != nil {
				return
			}
		}
	}()
	var dump []string
	var tb *stdioTraceback
	marks := 0 // 1 once the process has written dumpEnd
	quiet := time.NewTimer(dumpQuiet)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				o.logDump(log, dump)
				tb.log(log)
				return
			}
			if line == dumpEnd {
				marks = 1
				if dump != nil {
					quiet.Stop()
					o.logDump(log, dump)
					dump = nil
				}
				continue
			}
			if rec, ok := parsePipeRecord(line); ok {
				// A child's logging record: it ends a traceback or a
				// dump being read.
				quiet.Stop()
				tb.log(log)
				tb = nil
				o.logDump(log, dump)
				dump = nil
				o.remember(rec.msg)
				rec.logPipe(log)
				continue
			}
			if tb != nil {
				if !dumpHeader.MatchString(line) && tb.add(line) {
					o.remember(line)
					quiet.Reset(dumpQuiet)
					continue
				}
				quiet.Stop()
				tb.log(log)
				tb = nil
			}
			if dumpHeader.MatchString(line) || (dump != nil && dumpContinues(line)) {
				dump = append(dump, line)
				quiet.Reset(o.quiet[marks])
				continue
			}
			if dump != nil {
				quiet.Stop()
				o.logDump(log, dump)
				dump = nil
			}
			o.remember(line)
			if isTracebackHeader(line) {
				tb = newStdioTraceback(line)
				quiet.Reset(dumpQuiet)
				continue
			}
			log.Info(line, slog.String("graft.stream", "stdio"))
		case <-quiet.C:
			o.logDump(log, dump)
			dump = nil
			tb.log(log)
			tb = nil
		}
	}
}

// remember keeps line among the last 20 lines read.
func (o *outputLog) remember(line string) {
	o.mu.Lock()
	if len(o.last) == 20 {
		o.last = o.last[1:]
	}
	o.last = append(o.last, line)
	o.mu.Unlock()
}

// logDump logs a stack dump as one record.
func (o *outputLog) logDump(log *slog.Logger, dump []string) {
	for len(dump) > 0 && dump[len(dump)-1] == "" {
		dump = dump[:len(dump)-1]
	}
	if len(dump) == 0 {
		return
	}
	o.mu.Lock()
	why := o.expect
	o.expect = nil
	o.mu.Unlock()
	if why == nil {
		why = &dumpReason{level: slog.LevelError, msg: "wsgi: Python stacks"}
	}
	attrs := append(why.attrs[:len(why.attrs):len(why.attrs)], slog.String(logStack, strings.Join(dump, "\n")))
	log.Log(context.Background(), why.level, why.msg, attrs...)
}

// wait waits up to outputTailWait for EOF: everything the process wrote
// is logged.
func (o *outputLog) wait() {
	select {
	case <-o.done:
	case <-time.After(outputTailWait):
	}
}

// tail returns the last lines read, waiting up to a second for EOF.
func (o *outputLog) tail() string {
	select {
	case <-o.done:
	case <-time.After(outputTailWait):
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.last, "\n")
}

// startExit is what a process's reader reports when the process's socket
// ends before the app has loaded: which process, and the read error.
type startExit struct {
	who string // "worker 123", "the preload process"
	err error
}

func (e *startExit) Error() string {
	return fmt.Sprintf("wsgi: %s exited before loading the app: %v", e.who, e.err)
}

// startFailure explains a process that ended before loading the app: a
// *LoadError with how it ended (exit, as describeExit gives it) and its
// last output.
func startFailure(app, python, dir string, err error, out *outputLog, exit string) error {
	if dir == "" {
		dir, _ = os.Getwd() // the workers' directory: they inherit it
	}
	var le *LoadError
	if errors.As(err, &le) {
		if le.Python == "" {
			le.Python = python
		}
		if le.Dir == "" {
			le.Dir = dir
		}
		return err
	}
	who, how := "the process", exit
	var se *startExit
	if errors.As(err, &se) {
		who = se.who
		err = se.err
	}
	if !errors.Is(err, io.EOF) { // EOF is the process ending: said by exit
		how += "; its socket: " + err.Error()
	}
	return &LoadError{App: app, Python: python, Dir: dir, Traceback: out.tail(), Exit: who + " ended before loading it (" + how + ")"}
}
