package wsgi

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestStdioOrder: what an app prints and the records it logs reach the
// log in the order the app produced them, and a write to stdout or
// stderr is one record, even of several lines. Prints went through the
// worker's output pipe and records through its socket, which Go read
// apart: print, logging.warning, print came out as print, print, record
// now and then (in 200 rounds, some in each run); and the pipe, which cannot
// tell one write from the next, made a record of each line of a
// multi-line write. Both with preload (a worker forked from the zygote,
// whose streams must follow it to its own socket) and without.
func TestStdioOrder(t *testing.T) {
	for _, preload := range []bool{true, false} {
		t.Run(fmt.Sprintf("preload=%v", preload), func(t *testing.T) {
			logs := &pythontest.Buffer{}
			a := startApp(t, "stdio_order", Config{
				NoPreload: !preload,
				Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			}, nil)
			const n = 200
			mustGet(t, fmt.Sprintf("%s/?n=%d&m=M", a.srv.URL, n))
			logHas(t, logs, 10*time.Second, "M-after-record")
			var order, writes []string
			for _, r := range jsonRecords(t, logs.String()) {
				msg, _ := r["msg"].(string)
				switch {
				case strings.HasPrefix(msg, "order-"):
					order = append(order, msg)
				case strings.HasPrefix(msg, "M-"):
					writes = append(writes, msg)
					if r["level"] == "INFO" && r["graft.stream"] != "stdio" {
						t.Errorf("record %v lacks graft.stream=stdio", r)
					}
				}
			}
			var want []string
			for i := range n {
				want = append(want, fmt.Sprintf("order-%d-print", i), fmt.Sprintf("order-%d-log", i))
			}
			if len(order) != len(want) {
				t.Fatalf("%d order-* records, want %d:\n%s", len(order), len(want), strings.Join(order, "\n"))
			}
			for i := range want {
				if order[i] != want[i] {
					t.Errorf("record %d is %q, want %q (out of order):\n%s", i, order[i], want[i],
						strings.Join(order[max(0, i-3):min(len(order), i+4)], "\n"))
					break
				}
			}
			wantWrites := []string{
				"M-write-1\nM-write-2",      // sys.stderr.write of two lines: one record
				"M-print-1\nM-print-2",      // print of a multi-line string: one record
				"M-part-1-part-2\nM-part-3", // partial writes: whole lines, up to the write ending one
				"M-bytes",                   // sys.stdout.buffer.write
				"M-before-record",           // a partial line before a record comes before it
				"M-record",
				"M-after-record",
			}
			if strings.Join(writes, "|") != strings.Join(wantWrites, "|") {
				t.Errorf("records:\n%q\nwant:\n%q", writes, wantWrites)
			}
		})
	}
}

// TestStdioLogWrites feeds stdioLog the writes a process makes to
// sys.stdout and sys.stderr (STDIO frames) and its records (LOG frames):
// the writes up to one that ends a line are one record; a traceback in
// them is one ERROR record, as from the output pipe; a record comes after
// the partial line written before it; a line longer than stdioMaxPending
// is cut there. Writes made serving a request carry its id; those of
// requests served at once (and of no request) are gathered apart, their
// tracebacks too, so that neither lines nor ids are mixed up.
func TestStdioLogWrites(t *testing.T) {
	tb := "Traceback (most recent call last):\n" +
		"  File \"/srv/app/views.py\", line 3, in boom\n" +
		"    1 / 0\n" +
		"ZeroDivisionError: division by zero"
	long := strings.Repeat("x", stdioMaxPending)
	cases := []struct {
		name   string
		writes []string // "LOG:msg" is a record at WARNING
		want   []string // "LEVEL msg" or "LEVEL msg | stack"
	}{
		{"one write of several lines", []string{"a\nb\n"}, []string{"INFO a\nb"}},
		{"print of several lines", []string{"a\nb", "\n"}, []string{"INFO a\nb"}},
		{"two writes", []string{"a\n", "b\n"}, []string{"INFO a", "INFO b"}},
		{"partial writes", []string{"a", "b\nc", "\n"}, []string{"INFO ab\nc"}},
		{"blank print", []string{"\n"}, []string{"INFO "}},
		{"CRLF", []string{"a\r\nb\r\n"}, []string{"INFO a\nb"}},
		{"record after a partial line", []string{"a", "LOG:r", "b\n"}, []string{"INFO a", "WARN r", "INFO b"}},
		{"a handler's record with its traceback", []string{"Internal Server Error: /boom/\n" + tb + "\n", "next\n"},
			[]string{"INFO Internal Server Error: /boom/", "ERROR ZeroDivisionError: division by zero | " + tb, "INFO next"}},
		{"traceback in writes", []string{"Traceback (most recent call last):\n", "  File \"/srv/app/views.py\", line 3, in boom\n    1 / 0\n", "ZeroDivisionError: division by zero\n", "LOG:after"},
			[]string{"ERROR ZeroDivisionError: division by zero | " + tb, "WARN after"}},
		{"traceback at the end", []string{tb + "\n"}, []string{"ERROR ZeroDivisionError: division by zero | " + tb}},
		{"long line", []string{long[:100], long[100:], "y\n"}, []string{"INFO " + long, "INFO y"}},
		{"long write of lines", []string{"a\n" + long[2:] + "tail"}, []string{"INFO a", "INFO " + long[2:] + "tail"}},
		{"partial line at the end", []string{"a\n", "b"}, []string{"INFO a", "INFO b"}},
		// "ID=r:text" is written serving the request r (flagRequestID).
		{"with a request id", []string{"ID=r1:a\n", "b\n"}, []string{"INFO a [r1]", "INFO b"}},
		{"partial lines of two requests", []string{"ID=r1:a", "ID=r2:b", "c", "ID=r2:\n", "ID=r1:\n", "\n"},
			[]string{"INFO b [r2]", "INFO a [r1]", "INFO c"}},
		{"tracebacks of two requests", []string{"ID=r1:Traceback (most recent call last):\n", "ID=r2:Traceback (most recent call last):\n",
			"ID=r1:  File \"/srv/app/views.py\", line 3, in boom\n", "ID=r2:  File \"/srv/app/views.py\", line 3, in boom\n",
			"ID=r2:    1 / 0\n", "ID=r1:    1 / 0\n", "ID=r2:ZeroDivisionError: division by zero\n", "ID=r1:ZeroDivisionError: division by zero\n", "LOG:after"},
			[]string{"ERROR ZeroDivisionError: division by zero | " + tb + " [r1]", "ERROR ZeroDivisionError: division by zero | " + tb + " [r2]", "WARN after"}},
		{"record after partial lines", []string{"ID=r1:a", "b", "LOG:r"}, []string{"INFO a [r1]", "INFO b", "WARN r"}},
		{"malformed: no NUL", []string{"ID=:x\n"}, []string{"WARN wsgi: a worker sent a malformed STDIO frame", "INFO \x00x"}},
		// "T=n:..." is written or logged by the thread of key n (the
		// header's stream field): each thread's writes are gathered apart,
		// and a record logs only its own thread's partial line first.
		{"partial lines of two threads", []string{"T=1:a", "T=2:b", "T=2:\n", "T=1:\n"}, []string{"INFO b", "INFO a"}},
		{"record of another thread", []string{"T=1:a", "T=2:LOG:r", "T=1:\n"}, []string{"WARN r", "INFO a"}},
		{"record of the same thread", []string{"T=1:a", "T=1:LOG:r", "T=1:b\n"}, []string{"INFO a", "WARN r", "INFO b"}},
		{"tracebacks of two threads", []string{"T=1:Traceback (most recent call last):\n", "T=2:Traceback (most recent call last):\n",
			"T=1:  File \"/srv/app/views.py\", line 3, in boom\n", "T=3:LOG:between", "T=2:  File \"/srv/app/views.py\", line 3, in boom\n",
			"T=2:    1 / 0\n", "T=1:    1 / 0\n", "T=2:ZeroDivisionError: division by zero\n", "T=1:ZeroDivisionError: division by zero\n", "T=1:LOG:after"},
			[]string{"WARN between", "ERROR ZeroDivisionError: division by zero | " + tb, "WARN after", "ERROR ZeroDivisionError: division by zero | " + tb}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf strings.Builder
			s := newStdioLog(slog.New(slog.NewJSONHandler(&buf, nil)), newOutputLog())
			for _, w := range tc.writes {
				var thread uint16
				if r, ok := strings.CutPrefix(w, "T="); ok {
					n, text, _ := strings.Cut(r, ":")
					k, err := strconv.Atoi(n)
					if err != nil {
						t.Fatal(err)
					}
					thread, w = uint16(k), text
				}
				if r, ok := strings.CutPrefix(w, "LOG:"); ok {
					s.record(thread, 0, []byte("30\x00apps\x00"+r))
				} else if r, ok := strings.CutPrefix(w, "ID="); ok {
					id, text, _ := strings.Cut(r, ":")
					s.write(thread, flagRequestID, []byte(id+"\x00"+text))
				} else {
					s.write(thread, 0, []byte(w))
				}
			}
			s.close()
			var got []string
			for _, rec := range jsonRecords(t, buf.String()) {
				line := rec["level"].(string) + " " + rec["msg"].(string)
				if st, ok := rec[logTraceback].(string); ok {
					line += " | " + st
				}
				if id, ok := rec[logRequestID].(string); ok {
					line += " [" + id + "]"
				}
				got = append(got, line)
			}
			if strings.Join(got, "\n---\n") != strings.Join(tc.want, "\n---\n") {
				t.Errorf("records:\n%q\nwant:\n%q", shortened(got), shortened(tc.want))
			}
		})
	}
}

// shortened gives the records with a long one cut, for a readable failure.
func shortened(recs []string) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		if len(r) > 80 {
			r = fmt.Sprintf("%s...(%d bytes)", r[:80], len(r))
		}
		out[i] = r
	}
	return out
}

// TestSignalHandlerOutput: a Python signal handler of the app that prints
// and logs while its request's thread is in the middle of a send to Go
// (the client reads slowly, so the send blocks on a full socket) does not
// deadlock the worker: the send holds the socket's lock, and the
// handler's print or record, sent on the same socket, waited for that
// lock in the thread that held it, forever. Such output goes to the
// output pipe instead (Conn.in_send); the response is whole.
func TestSignalHandlerOutput(t *testing.T) {
	logs := &pythontest.Buffer{}
	a := startApp(t, "signal_output", Config{
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
		Timeout: 60 * time.Second,
	}, nil)
	const mb = 16
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(fmt.Sprintf("%s/?mb=%d", a.srv.URL, mb))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(300 * time.Millisecond) // the worker's sends block meanwhile
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != mb<<20 {
		t.Fatalf("read %d bytes (%v), want %d: the worker hung in its signal handler\n%s", n, err, mb<<20, logs.String())
	}
	logHas(t, logs, 10*time.Second, "tick")
	logHas(t, logs, 10*time.Second, "tock")
	// The worker still serves: one more MiB, not 16 (mustGet with the
	// default of apps.py would stream 16 MiB under the 200 us timer again,
	// past its client timeout on a loaded machine).
	if b := mustGet(t, a.srv.URL+"/?mb=1"); len(b) != 1<<20 {
		t.Fatalf("then read %d bytes, want %d", len(b), 1<<20)
	}
}

// TestStdioTracebackWhole: a traceback written whole in one write (a
// logging handler's record, format_exc's text, a print of it, the
// worker's print_exception) is logged as the write comes; one written in
// pieces (a line at a time, or a chain whose next part may follow) waits
// for its next line or dumpQuiet. Before, every traceback waited
// dumpQuiet (100 ms) after its last line: the tracebacks an app printed
// while it was imported, and each failed Django view's, came that late.
func TestStdioTracebackWhole(t *testing.T) {
	tb := "Traceback (most recent call last):\n" +
		"  File \"/srv/app/views.py\", line 3, in boom\n" +
		"    1 / 0\n" +
		"ZeroDivisionError: division by zero"
	chained := tb + "\n\nThe above exception was the direct cause of the following exception:\n\n" +
		strings.Replace(tb, "ZeroDivisionError: division by zero", "RuntimeError: wrapped", 1)
	cases := []struct {
		name   string
		writes []string
		now    bool // logged before close and before dumpQuiet
	}{
		{"one write", []string{tb + "\n"}, true},
		{"a handler's record", []string{"Internal Server Error: /boom/\n" + tb + "\n"}, true},
		{"chained, one write", []string{chained + "\n"}, true},
		{"a print of it", []string{tb, "\n"}, true},
		{"line by line", []string{"Traceback (most recent call last):\n", "  File \"/srv/app/views.py\", line 3, in boom\n", "    1 / 0\n", "ZeroDivisionError: division by zero\n"}, false},
		{"a chain's first part", []string{tb + "\n\nThe above exception was the direct cause of the following exception:\n\n"}, false},
		{"cut in a frame", []string{"Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 3, in boom\n"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf pythontest.Buffer
			s := newStdioLog(slog.New(slog.NewJSONHandler(&buf, nil)), newOutputLog())
			defer s.close()
			for _, w := range tc.writes {
				s.write(1, 0, []byte(w))
			}
			got := strings.Contains(buf.String(), `"level":"ERROR"`)
			if got != tc.now {
				t.Errorf("traceback logged at once: %v, want %v; log: %s", got, tc.now, buf.String())
			}
		})
	}
}
