package wsgi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// jsonRecords decodes a JSON handler's output, one record per line.
func jsonRecords(t *testing.T, s string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("a log line is not JSON: %v\n%s", err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// outputRecords runs an outputLog on a pipe that carries in, and returns
// the records it logged at level and above.
func outputRecords(t *testing.T, in string, level slog.Level) []map[string]any {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	o := newOutputLog()
	go func() {
		w.WriteString(in)
		w.Close()
	}()
	o.run(log, r)
	return jsonRecords(t, buf.String())
}

// TestDjangoConsoleTraceback: a Django project whose LOGGING puts a
// console handler on the root logger (the usual setup) writes the
// traceback of a failed view to the worker's stderr. graft logged each of
// its lines as a record of its own, at INFO ("File ...", "raise ...", the
// exception line): in JSON, a dozen objects no pipeline puts back together
// and no ERROR for an alert. The traceback is now one ERROR record, the
// exception line as its message and the whole text as error.stack_trace.
func TestDjangoConsoleTraceback(t *testing.T) {
	logs := &pythontest.Buffer{}
	c, _ := newDjango(t, Config{
		Env:    []string{"GRAFT_DJANGO_CONSOLE_LOG=1"},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	srv := newServer(t, c)
	resp, err := srv.Client().Get(srv.URL + "/boom/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("GET /boom/ = %d, want 500", resp.StatusCode)
	}
	logHas(t, logs, 10*time.Second, "RuntimeError: djangoapp boom")
	time.Sleep(2 * dumpQuiet) // the end of a traceback is its quiet
	var found bool
	for _, r := range jsonRecords(t, logs.String()) {
		msg, _ := r["msg"].(string)
		if strings.HasPrefix(strings.TrimLeft(msg, " "), "File \"") || msg == "Traceback (most recent call last):" {
			t.Errorf("a traceback line was logged as a record of its own: %v", r)
		}
		st, _ := r[logTraceback].(string)
		if st == "" {
			continue
		}
		found = true
		if msg != "RuntimeError: djangoapp boom" || r["level"] != "ERROR" || r["graft.stream"] != "stdio" {
			t.Errorf("traceback record %v, want msg %q at ERROR with graft.stream=stdio", r, "RuntimeError: djangoapp boom")
		}
		if !strings.HasPrefix(st, "Traceback (most recent call last):\n") || !strings.Contains(st, "in boom\n") ||
			!strings.HasSuffix(st, "\nRuntimeError: djangoapp boom") {
			t.Errorf("%s is not the whole traceback:\n%s", logTraceback, st)
		}
	}
	if !found {
		t.Errorf("no record holds the traceback as %s; log:\n%s", logTraceback, logs.String())
	}
}

// TestOutputTraceback feeds outputLog what a process writes to stderr: a
// Python traceback (plain, chained, with its exception's message on
// several lines, an exception group's) is one ERROR record; every other line stays a record of
// its own at INFO, in order.
func TestOutputTraceback(t *testing.T) {
	tb := "Traceback (most recent call last):\n" +
		"  File \"/srv/app/views.py\", line 3, in boom\n" +
		"    1 / 0\n" +
		"    ~~^~~\n" +
		"ZeroDivisionError: division by zero"
	chained := tb + "\n\nDuring handling of the above exception, another exception occurred:\n\n" +
		"Traceback (most recent call last):\n" +
		"  File \"/srv/app/views.py\", line 5, in boom\n" +
		"    raise ValueError(\"x\")\n" +
		"ValueError: x"
	group := "  + Exception Group Traceback (most recent call last):\n" +
		"  |   File \"/srv/app/views.py\", line 4, in boom\n" +
		"  | ExceptionGroup: eg (2 sub-exceptions)\n" +
		"  +-+---------------- 1 ----------------\n" +
		"    | ValueError: x\n" +
		"    +---------------- 2 ----------------\n" +
		"    | TypeError: y\n" +
		"    +------------------------------------"
	cases := []struct {
		name string
		in   string
		want []string // "LEVEL msg" or "LEVEL msg | stack"
	}{
		{"prints", "hello\n  indented\nbye\n", []string{"INFO hello", "INFO   indented", "INFO bye"}},
		{"traceback", "Internal Server Error: /boom/\n" + tb + "\nnext line\n", []string{
			"INFO Internal Server Error: /boom/",
			"ERROR ZeroDivisionError: division by zero | " + tb,
			"INFO next line"}},
		{"traceback at EOF", tb + "\n", []string{"ERROR ZeroDivisionError: division by zero | " + tb}},
		{"chained", chained + "\n", []string{"ERROR ValueError: x | " + chained}},
		{"message on two lines", tb + "\nsecond line\n", []string{
			"ERROR ZeroDivisionError: division by zero | " + tb, "INFO second line"}},
		{"exception group", group + "\nafter\n", []string{
			"ERROR ExceptionGroup: eg (2 sub-exceptions) | " + group, "INFO after"}},
		{"two tracebacks", tb + "\n" + tb + "\n", []string{
			"ERROR ZeroDivisionError: division by zero | " + tb,
			"ERROR ZeroDivisionError: division by zero | " + tb}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, rec := range outputRecords(t, tc.in, slog.LevelInfo) {
				s := rec["level"].(string) + " " + rec["msg"].(string)
				if st, ok := rec[logTraceback].(string); ok {
					s += " | " + st
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
