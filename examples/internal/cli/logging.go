package cli

import (
	"io"
	"log/slog"
	"strings"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/wsgi"
)

// checkLogging parses -log-level and -log-format.
func (f *Flags) checkLogging() error {
	switch strings.ToLower(f.LogLevel) {
	case "debug":
		f.logLevel = slog.LevelDebug
	case "info":
		f.logLevel = slog.LevelInfo
	case "warning", "warn":
		f.logLevel = slog.LevelWarn
	case "error":
		f.logLevel = slog.LevelError
	case "critical":
		// gunicorn's loglevel: slog has no level above ERROR, where Python's
		// CRITICAL records go, so a level keeping only them cannot be had.
		return Usagef("-log-level %q: want debug, info, warning or error (gunicorn's critical has no counterpart: Python's CRITICAL records are logged at ERROR; use error)", f.LogLevel)
	default:
		return Usagef("-log-level %q: want debug, info, warning or error", f.LogLevel)
	}
	if f.LogFormat != "text" && f.LogFormat != "json" {
		return Usagef("-log-format %q: want text or json", f.LogFormat)
	}
	return nil
}

// Logger returns the examples' logger, writing to w records at -log-level
// and above: with -log-format text (the default) wsgi.NewTextHandler's
// lines, with Python tracebacks and stacks readable below them; with json,
// one JSON object per line (middleware.NewLogHandler, slog's JSON), each
// traceback one string, for log pipelines. w writes to standard error:
// when that is the systemd journal, each line carries its record's
// syslog priority (middleware.JournalStderr).
func (f *Flags) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: f.logLevel}
	w = middleware.JournalStderr(w)
	if f.LogFormat == "json" {
		return slog.New(middleware.NewLogHandler(w, opts))
	}
	return slog.New(wsgi.NewTextHandler(w, opts))
}
