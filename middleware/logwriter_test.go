package middleware

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flush timer's goroutine,
// counting the writes it receives.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	err    error
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	b.writes++
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestLogWriter(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  int // writes to the underlying writer after Flush
	}{
		{"nothing", nil, 0},
		{"small lines, one write", []string{"a\n", "b\n", "c\n"}, 1},
		{"overflow writes the buffer first", []string{strings.Repeat("x", 40<<10) + "\n", strings.Repeat("y", 40<<10) + "\n"}, 2},
		{"a line larger than the buffer", []string{"a\n", strings.Repeat("z", 100<<10) + "\n", "b\n"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out lockedBuffer
			lw := NewLogWriter(&out, time.Hour)
			for _, l := range tc.lines {
				if n, err := lw.Write([]byte(l)); n != len(l) || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if err := lw.Flush(); err != nil {
				t.Fatal(err)
			}
			if got, want := out.String(), strings.Join(tc.lines, ""); got != want {
				t.Errorf("got %d bytes, want %d, in order", len(got), len(want))
			}
			if out.writes != tc.want {
				t.Errorf("%d writes, want %d", out.writes, tc.want)
			}
		})
	}
}

func TestLogWriterBuffersUntilTheInterval(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out, 20*time.Millisecond)
	defer lw.Close()
	lw.Write([]byte("line\n"))
	for deadline := time.Now().Add(10 * time.Second); out.String() == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the flush timer never wrote the line")
		}
	}
	if got := out.String(); got != "line\n" {
		t.Errorf("got %q", got)
	}
	lw.Write([]byte("again\n")) // the timer is armed again
	for deadline := time.Now().Add(10 * time.Second); out.String() != "line\nagain\n"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("got %q after the second line", out.String())
		}
	}
}

// Close loses nothing: concurrent loggers' lines are all written, whole,
// and lines logged after Close go straight through.
func TestLogWriterCloseLosesNothing(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out, time.Hour)
	logger := slog.New(slog.NewTextHandler(lw, nil))
	const n, per = 8, 500
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				logger.Info("request", "g", g, "i", i, "pad", strings.Repeat("p", 100))
			}
		}()
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	logger.Info("after close")
	if !strings.HasSuffix(out.String(), "msg=\"after close\"\n") {
		t.Error("a line logged after Close was not written at once")
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if !strings.Contains(line, "msg=") || !strings.HasPrefix(line, "time=") {
			t.Fatalf("torn line %q", line)
		}
		seen[line[strings.Index(line, "msg="):]] = true
	}
	for g := range n {
		for i := range per {
			if k := fmt.Sprintf("msg=request g=%d i=%d pad=%s", g, i, strings.Repeat("p", 100)); !seen[k] {
				t.Fatalf("line g=%d i=%d lost", g, i)
			}
		}
	}
	if err := lw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLogWriterErrors(t *testing.T) {
	boom := errors.New("disk full")
	out := &lockedBuffer{err: boom}
	lw := NewLogWriter(out, time.Hour)
	lw.Write([]byte("a\n"))
	if err := lw.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush: %v, want %v", err, boom)
	}
	lw.Write([]byte("b\n"))
	if err := lw.Close(); !errors.Is(err, boom) {
		t.Errorf("Close: %v, want %v", err, boom)
	}
	if _, err := lw.Write([]byte("c\n")); !errors.Is(err, boom) {
		t.Errorf("Write after Close: %v, want %v", err, boom)
	}
}
