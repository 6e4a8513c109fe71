package middleware

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// JournalStderr returns w, a writer to the process's standard error (the
// stream itself, or a [LogWriter] over it), wrapped so that every line
// begins with the syslog priority of its record, when standard error is
// the systemd journal; otherwise w itself. systemd says so with
// $JOURNAL_STREAM, the device and inode of the stream it connected
// (StandardError=journal, a service's default); journald then takes the
// prefix off each line and files it at that priority (SyslogLevelPrefix=,
// on by default), so that journalctl -p warning shows the warnings and
// errors. Without it every line is at journald's default priority, info.
//
// The priority is read from each record's line as slog's handlers write
// it (level=ERROR, or "level":"ERROR" in JSON; [wsgi.NewTextHandler] and
// [NewLogHandler] included): <3> for ERROR and above, <4> WARN, <6> INFO,
// <7> DEBUG. The indented lines below a record (a traceback that
// wsgi.NewTextHandler prints under its line) get the record's priority,
// and any other line <6>: every line has exactly one prefix, so that a
// line's own leading "<3>" is never taken for one.
//
//	logger := slog.New(wsgi.NewTextHandler(middleware.JournalStderr(os.Stderr), nil))
func JournalStderr(w io.Writer) io.Writer {
	if !stderrIsJournal() {
		return w
	}
	return &journalWriter{w: w}
}

// stderrIsJournal reports whether $JOURNAL_STREAM names the process's
// standard error ("DEVICE:INODE", in decimal).
func stderrIsJournal() bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	sd, si, ok := fileID(os.Stderr)
	return ok && sd == d && si == i
}

// journalWriter prefixes each line with its syslog priority (see
// [JournalStderr]). It is safe for concurrent use; each Write is one
// Write to w.
type journalWriter struct {
	w io.Writer

	mu  sync.Mutex
	mid bool   // the last Write ended inside a line
	cur byte   // the priority of the last record's line
	buf []byte // the prefixed bytes, reused
}

func (j *journalWriter) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := j.buf[:0]
	for rest := p; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		if !j.mid {
			b = append(b, '<', j.priority(line), '>')
		}
		b = append(b, line...)
		j.mid = line[len(line)-1] != '\n'
	}
	j.buf = b
	if _, err := j.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// priority returns the syslog priority digit of line, which starts a
// line: its record's level, the last record's for an indented line, 6
// (info) for any other.
func (j *journalWriter) priority(line []byte) byte {
	switch {
	case len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && j.cur != 0:
		return j.cur
	case bytes.HasPrefix(line, []byte("{")):
		_, v, ok := bytes.Cut(line, []byte(`"level":"`))
		j.cur = levelPriority(v, ok)
	case bytes.HasPrefix(line, []byte("time=")) || bytes.HasPrefix(line, []byte("level=")):
		v, ok := bytes.CutPrefix(line, []byte("level="))
		if !ok {
			_, v, ok = bytes.Cut(line, []byte(" level="))
		}
		j.cur = levelPriority(v, ok)
	default:
		j.cur = '6'
	}
	return j.cur
}

// levelPriority maps the start of a slog level's name (ERROR, WARN+2, ...)
// to a syslog priority digit; 6 when there is none.
func levelPriority(v []byte, ok bool) byte {
	switch {
	case !ok:
	case bytes.HasPrefix(v, []byte("ERROR")):
		return '3'
	case bytes.HasPrefix(v, []byte("WARN")):
		return '4'
	case bytes.HasPrefix(v, []byte("DEBUG")):
		return '7'
	}
	return '6'
}
