package wsgi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
)

// A LOG frame carries one record of Python's logging module (worker.py's
// GoLogHandler): "levelno \0 logger \0 message", the message last, as it
// may hold NULs of its own. A record that a thread logged while serving a
// request has the flag flagRequestID and the request's id in front:
// "id \0 levelno \0 logger \0 message". Go logs it with the id as
// request.id, the key of its own lines about the request and of the
// access log's, so that the app's lines join the request's.

// logFrame is a decoded LOG frame.
type logFrame struct {
	level     slog.Level
	logger    string
	msg       string
	requestID string // "" without flagRequestID
}

// errLogFrame prefixes the errors of parseLogFrame.
var errLogFrame = errors.New("wsgi: malformed LOG frame")

// parseLogFrame decodes a LOG frame's payload, given the frame's flags.
func parseLogFrame(flags byte, payload []byte) (logFrame, error) {
	var f logFrame
	rest := string(payload)
	if flags&flagRequestID != 0 {
		var ok bool
		f.requestID, rest, ok = strings.Cut(rest, "\x00")
		if !ok {
			return f, badLogFrame("no NUL after the request id", payload)
		}
		if f.requestID == "" {
			return f, badLogFrame("empty request id", payload)
		}
	}
	lvl, rest, ok := strings.Cut(rest, "\x00")
	if !ok {
		return f, badLogFrame("no NUL after the level", payload)
	}
	n, err := strconv.Atoi(lvl)
	if err != nil {
		return f, badLogFrame("level "+strconv.Quote(lvl)+" is not a number", payload)
	}
	f.logger, f.msg, ok = strings.Cut(rest, "\x00")
	if !ok {
		return f, badLogFrame("no NUL after the logger name", payload)
	}
	f.level = pythonLevel(n)
	return f, nil
}

// badLogFrame is a parseLogFrame error: why, and the start of the payload.
func badLogFrame(why string, payload []byte) error {
	return errors.New(errLogFrame.Error() + ": " + why + " (payload " + quoteStart(payload) + ")")
}

// quoteStart quotes the start of a malformed payload, for its error.
func quoteStart(payload []byte) string {
	const show = 200
	p := string(payload)
	if len(p) > show {
		p = p[:show] + "..."
	}
	return strconv.Quote(p)
}

// pythonLevel maps a Python logging level number to a slog level.
func pythonLevel(n int) slog.Level {
	switch {
	case n >= 40:
		return slog.LevelError
	case n >= 30:
		return slog.LevelWarn
	case n < 20:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// logRecord logs a Python logging record sent as a LOG frame with flags;
// a malformed one is logged as a WARN line saying what is wrong with it.
func logRecord(log *slog.Logger, flags byte, payload []byte) {
	f, err := parseLogFrame(flags, payload)
	if err != nil {
		log.Warn("wsgi: a worker sent a malformed logging record", slog.String(logError, err.Error()))
		return
	}
	if f.requestID != "" {
		log.Log(context.Background(), f.level, f.msg, slog.String(logLogger, f.logger), slog.String(logRequestID, f.requestID))
		return
	}
	log.Log(context.Background(), f.level, f.msg, slog.String(logLogger, f.logger))
}
