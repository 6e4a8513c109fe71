package wsgi

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
)

// A logging record of a child process the app forked reaches Go through
// the output pipe (the child has no socket to Go), as one line that only
// worker.py's GoLogHandler writes (pipe_record): pipeRecord, the level
// number, pipeRecordSep, the logger's name, pipeRecordSep, the message
// with its backslashes, CRs and LFs escaped. Go logs it as it logs a LOG
// frame: at its level, with its logger as log.logger and its text, a
// traceback and all, as the message. A line the child prints ("ERROR: x")
// is printed text, logged at INFO with graft.stream=stdio: only a line
// that begins with pipeRecord, a control character, and has both
// separators is read as a record, which no ordinary print writes.

// maxPipeRecord bounds the bytes of a record's line that the output pipe's
// reader gathers (the line of a longer one is cut there: its start is
// logged as the record, the rest as printed text, in pieces).
const maxPipeRecord = 1 << 20

// parsePipeRecord decodes line, a line of the output pipe, if it is a
// record's (see above).
func parsePipeRecord(line string) (logFrame, bool) {
	var f logFrame
	rest, ok := strings.CutPrefix(line, string(rune(pipeRecord)))
	if !ok {
		return f, false
	}
	sep := string(rune(pipeRecordSep))
	lvl, rest, ok := strings.Cut(rest, sep)
	if !ok {
		return f, false
	}
	n, err := strconv.Atoi(lvl)
	if err != nil {
		return f, false
	}
	f.logger, rest, ok = strings.Cut(rest, sep)
	if !ok {
		return f, false
	}
	f.level = pythonLevel(n)
	f.msg = unescapePipeRecord(rest)
	return f, true
}

// unescapePipeRecord undoes pipe_record's escapes: \\, \r and \n. Any other
// backslash is kept as it is.
func unescapePipeRecord(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\':
				c = '\\'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			default:
				b.WriteByte(c)
				continue
			}
			i++
		}
		b.WriteByte(c)
	}
	return b.String()
}

// log logs the record f of the output pipe.
func (f logFrame) logPipe(log *slog.Logger) {
	log.Log(context.Background(), f.level, f.msg, slog.String(logLogger, f.logger))
}
