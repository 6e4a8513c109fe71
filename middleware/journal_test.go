package middleware

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/graft-dev/graft/wsgi"
)

// journalStream sets JOURNAL_STREAM to the device and inode of the test's
// standard error, as systemd does when it is connected to the journal.
func journalStream(t *testing.T) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
}

// journalPrefix is the <N> that journald takes off each line.
var journalPrefix = regexp.MustCompile(`(?m)^<[0-7]>`)

func TestJournalStderr(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(w *bytes.Buffer) slog.Handler
		// want: the prefix of each line, in order
		want []string
	}{
		{"text, traceback below its line", func(w *bytes.Buffer) slog.Handler {
			return wsgi.NewTextHandler(JournalStderr(w), &slog.HandlerOptions{Level: slog.LevelDebug})
		}, []string{"<7>", "<6>", "<4>", "<3>", "<3>", "<3>", "<3>", "<3>", "<6>"}},
		{"slog text", func(w *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(JournalStderr(w), &slog.HandlerOptions{Level: slog.LevelDebug})
		}, []string{"<7>", "<6>", "<4>", "<3>", "<6>"}},
		{"json", func(w *bytes.Buffer) slog.Handler {
			return NewLogHandler(JournalStderr(w), &slog.HandlerOptions{Level: slog.LevelDebug})
		}, []string{"<7>", "<6>", "<4>", "<3>", "<6>"}},
		{"json, batched by a LogWriter", func(w *bytes.Buffer) slog.Handler {
			lw := NewLogWriter(w, 0)
			t.Cleanup(func() { lw.Close() })
			return &flushing{NewLogHandler(JournalStderr(lw), &slog.HandlerOptions{Level: slog.LevelDebug}), lw}
		}, []string{"<7>", "<6>", "<4>", "<3>", "<6>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			journalStream(t)
			var buf bytes.Buffer
			log := slog.New(tc.handler(&buf))
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("request failed", slog.String("error.stack_trace", "Traceback (most recent call last):\n  File \"v.py\"\nZeroDivisionError"))
			log.Log(nil, slog.LevelInfo+1, "info+1")
			if f, ok := log.Handler().(*flushing); ok {
				f.lw.Flush()
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			var got []string
			for _, l := range lines {
				got = append(got, journalPrefix.FindString(l))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("prefixes %q, want %q; output:\n%s", got, tc.want, buf.String())
			}
		})
	}
}

// flushing lets the test flush the LogWriter under a handler.
type flushing struct {
	slog.Handler
	lw *LogWriter
}

// Without the journal on standard error, JournalStderr returns its writer.
func TestJournalStderrOff(t *testing.T) {
	for _, env := range []string{"", "1:2", "junk"} {
		t.Setenv("JOURNAL_STREAM", env)
		var buf bytes.Buffer
		if w := JournalStderr(&buf); w != &buf {
			t.Errorf("JOURNAL_STREAM=%q: got a wrapper", env)
		}
	}
}

// FuzzJournalLines: whatever is written, in whatever pieces, each line
// gets exactly one prefix, so what journald keeps (each line without its
// first <N>) is what was written: a line's own "<3>" is never taken for a
// level.
func FuzzJournalLines(f *testing.F) {
	f.Add("time=2026-12-02T00:00:00Z level=ERROR msg=x\n  error.stack_trace:\n    Traceback\n", 7)
	f.Add(`{"time":"x","level":"WARN","msg":"y"}`+"\n", 3)
	f.Add("level=INFO+2 msg=z\nno newline", 0)
	f.Add("\n\n<3>already\n", 2)
	f.Fuzz(func(t *testing.T, s string, cut int) {
		var buf bytes.Buffer
		w := &journalWriter{w: &buf}
		cut = min(max(cut, 0), len(s))
		for _, p := range []string{s[:cut], s[cut:]} {
			if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
				t.Fatalf("Write(%q) = %d, %v", p, n, err)
			}
		}
		var kept strings.Builder
		for _, l := range strings.SplitAfter(buf.String(), "\n") {
			if l == "" {
				continue // after the last newline
			}
			m := journalPrefix.FindString(l)
			if m == "" {
				t.Fatalf("line %q has no prefix; output %q", l, buf.String())
			}
			kept.WriteString(l[len(m):])
		}
		if kept.String() != s {
			t.Errorf("wrote %q, journald keeps %q", s, kept.String())
		}
	})
}
