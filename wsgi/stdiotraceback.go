package wsgi

import (
	"log/slog"
	"strings"
)

// A Python traceback that a process writes to its stdout or stderr (a
// logging handler of the app's own, traceback.print_exc, an exception in
// a thread), or an exception group's, is gathered into one record, as a
// stack dump is: at ERROR, its exception line as the message and the
// whole text as error.stack_trace, instead of one INFO record per line.

// tracebackHeader begins every Python traceback, and each one of a chain;
// groupHeader an exception group's (Python 3.11), all of whose lines are
// indented.
const (
	tracebackHeader = "Traceback (most recent call last):"
	groupHeader     = "  + Exception Group Traceback (most recent call last):"
)

// stdioTraceback is a traceback being read, line by line.
type stdioTraceback struct {
	requestID string // the id it was written with (request.id), "" none
	group     bool   // an exception group's: ends at the first line not indented
	lines     []string
	exc       string // the last exception line read ("ValueError: x")
	chain     bool   // a chain's separator follows exc: another traceback may come
}

// newStdioTraceback starts a traceback at header, a tracebackHeader or
// groupHeader line.
func newStdioTraceback(header string) *stdioTraceback {
	return &stdioTraceback{lines: []string{header}, group: header == groupHeader}
}

// isTracebackHeader reports whether line begins a traceback.
func isTracebackHeader(line string) bool {
	return line == tracebackHeader || line == groupHeader
}

// add adds line and reports whether it belongs to the traceback. Before
// the exception line, a traceback's lines are indented (frames, source
// lines, carets, exception groups' "  |"); the first line that is not is
// the exception line. After it, only a chain continues it: blank lines,
// "During handling of the above exception..." or "The above exception was
// the direct cause...", then the next traceback's header. An exception
// message spanning several lines ends the traceback at its first line:
// the rest cannot be told from what the process writes next.
func (tb *stdioTraceback) add(line string) bool {
	switch {
	case tb.group:
		// "  | ExceptionGroup: eg (2 sub-exceptions)" names it.
		if !strings.HasPrefix(line, " ") {
			return false
		}
		if rest, ok := strings.CutPrefix(line, "  | "); ok && tb.exc == "" && rest != "" && !strings.HasPrefix(rest, " ") {
			tb.exc = rest
		}
	case tb.exc == "":
		if line == "" || line == tracebackHeader {
			return false
		}
		if !strings.HasPrefix(line, " ") {
			tb.exc = line
		}
	case line == "":
	case line == "During handling of the above exception, another exception occurred:" ||
		line == "The above exception was the direct cause of the following exception:":
		tb.chain = true
	case line == tracebackHeader && tb.chain:
		tb.exc, tb.chain = "", false
	default:
		return false
	}
	tb.lines = append(tb.lines, line)
	return true
}

// log logs the traceback as one record; nothing for nil.
func (tb *stdioTraceback) log(log *slog.Logger) {
	if tb == nil {
		return
	}
	lines := tb.lines
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	msg := tb.exc
	if msg == "" { // cut short: the process ended or went quiet in a frame
		msg = strings.TrimSpace(tb.lines[0])
	}
	if tb.requestID != "" {
		log.Error(msg, slog.String("graft.stream", "stdio"), slog.String(logTraceback, strings.Join(lines, "\n")), slog.String(logRequestID, tb.requestID))
		return
	}
	log.Error(msg, slog.String("graft.stream", "stdio"), slog.String(logTraceback, strings.Join(lines, "\n")))
}
