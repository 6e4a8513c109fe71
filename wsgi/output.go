package wsgi

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

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
			log.Info(string(line), slog.String("graft.stream", "stdio"))
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
	case <-time.After(outputTailWait):
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.last, "\n")
}

// startFailure explains a process that ended before loading the app: a
// *LoadError with its last output and how it ended.
func startFailure(app, python string, err error, out *outputLog, exit string) error {
	var le *LoadError
	if errors.As(err, &le) {
		if le.Python == "" {
			le.Python = python
		}
		return err
	}
	tb := out.tail()
	if tb != "" {
		tb += "\n"
	}
	return &LoadError{App: app, Python: python, Traceback: tb + "the process ended before loading the app (" + exit + "): " + err.Error()}
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
	log.Log(context.Background(), level, msg, slog.String(logLogger, name))
}
