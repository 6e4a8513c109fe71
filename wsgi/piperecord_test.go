package wsgi

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// pipeLine is a record's line of the output pipe as worker.py's
// pipe_record writes it: the message's \, CR and LF escaped.
func pipeLine(levelno, logger, msg string) string {
	msg = strings.NewReplacer(`\`, `\\`, "\r", `\r`, "\n", `\n`).Replace(msg)
	return string(rune(pipeRecord)) + levelno + string(rune(pipeRecordSep)) + logger + string(rune(pipeRecordSep)) + msg + "\n"
}

// TestOutputPipeRecord feeds outputLog what a child process the app forked
// writes to the output pipe: graft's handler's records are logged at their
// level with their logger and their text (a traceback in it, backslashes
// and all); a print that looks like one ("ERROR: x") and a marked line
// that is not a record stay printed text at INFO; a record ends a
// traceback being read; a record longer than the reader's buffer is
// gathered whole.
func TestOutputPipeRecord(t *testing.T) {
	tb := "Traceback (most recent call last):\n" +
		"  File \"/srv/app/views.py\", line 3, in boom\n" +
		"    1 / 0\n" +
		"ZeroDivisionError: division by zero"
	long := strings.Repeat("y", 200<<10)
	cases := []struct {
		name string
		in   string
		want []string // "LEVEL msg [logger]" or "LEVEL msg | stack"
	}{
		{"levels", pipeLine("40", "app", "e") + pipeLine("30", "app.sub", "w") + pipeLine("20", "root", "i") + pipeLine("10", "app", "d") + pipeLine("50", "app", "c"),
			[]string{"ERROR e [app]", "WARN w [app.sub]", "INFO i [root]", "DEBUG d [app]", "ERROR c [app]"}},
		{"traceback in the record", pipeLine("40", "app", "failed\n"+tb), []string{"ERROR failed\n" + tb + " [app]"}},
		{"escapes", pipeLine("30", "app", `C:\new\r`+"\r\n"+`\\`), []string{"WARN " + `C:\new\r` + "\r\n" + `\\` + " [app]"}},
		{"empty message", pipeLine("30", "app", ""), []string{"WARN  [app]"}},
		{"a print that looks like a record", "ERROR: x\nWARNING: y\n", []string{"INFO ERROR: x", "INFO WARNING: y"}},
		{"marked, not a record", "\x1eERROR: x\n\x1e40\n\x1e40\x1fapp\n\x1ex\x1fapp\x1fm\n", []string{
			"INFO \x1eERROR: x", "INFO \x1e40", "INFO \x1e40\x1fapp", "INFO \x1ex\x1fapp\x1fm"}},
		{"ends a traceback", tb + "\n" + pipeLine("30", "app", "after"), []string{
			"ERROR ZeroDivisionError: division by zero | " + tb, "WARN after [app]"}},
		{"long record", pipeLine("30", "app", long) + "next\n", []string{"WARN " + long + " [app]", "INFO next"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, rec := range outputRecords(t, tc.in, slog.LevelDebug) {
				s := rec["level"].(string) + " " + rec["msg"].(string)
				if st, ok := rec[logTraceback].(string); ok {
					s += " | " + st
				}
				if lg, ok := rec[logLogger].(string); ok {
					s += " [" + lg + "]"
					if rec["graft.stream"] != nil {
						t.Errorf("a record has graft.stream: %v", rec)
					}
				} else if rec["graft.stream"] != "stdio" {
					t.Errorf("printed text without graft.stream=stdio: %v", rec)
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n---\n") != strings.Join(tc.want, "\n---\n") {
				t.Errorf("records:\n%q\nwant:\n%q", shortened(got), shortened(tc.want))
			}
		})
	}
}

// FuzzPipeRecord: any line either is a record's (pipeRecord, a level
// number, pipeRecordSep, a logger, pipeRecordSep, the message) or is not,
// without panicking; a message escaped as worker.py escapes it comes back
// as it was.
func FuzzPipeRecord(f *testing.F) {
	for _, s := range []string{
		"\x1e40\x1fapp\x1fboom",
		"\x1e30\x1fapp\x1fa\\nb\\\\c\\r",
		"\x1e30\x1fapp\x1f\\",
		"\x1e30\x1fapp\x1f\\x",
		"\x1e\x1f\x1f",
		"\x1e99999999999999999999\x1fa\x1fb",
		"ERROR: x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		rec, ok := parsePipeRecord(line)
		rest, marked := strings.CutPrefix(line, "\x1e")
		fields := strings.SplitN(rest, "\x1f", 3)
		valid := marked && len(fields) == 3
		if valid {
			_, err := strconv.Atoi(fields[0])
			valid = err == nil
		}
		if ok != valid {
			t.Fatalf("parsePipeRecord(%q): ok %v, want %v", line, ok, valid)
		}
		if ok && rec.logger != fields[1] {
			t.Fatalf("parsePipeRecord(%q): logger %q, want %q", line, rec.logger, fields[1])
		}
		// Round trip: the message escaped as pipe_record does.
		esc := strings.TrimSuffix(pipeLine("20", "app", line), "\n")
		if got, ok := parsePipeRecord(esc); !ok || got.msg != line || got.logger != "app" || got.level != slog.LevelInfo {
			t.Fatalf("escaped %q: got %+v, %v", line, got, ok)
		}
	})
}

// FuzzStdioFrame: any STDIO payload, with or without flagRequestID, is
// split into its non-empty id and the bytes written, or rejected with an
// error that keeps the whole payload as the bytes written; stdioLog logs
// it without panicking.
func FuzzStdioFrame(f *testing.F) {
	for _, s := range []struct {
		flags   byte
		payload string
	}{
		{0, "hello\n"},
		{0, ""},
		{flagRequestID, "rid-1\x00hello\n"},
		{flagRequestID, "rid-1\x00"},
		{flagRequestID, "\x00x\n"},
		{flagRequestID, "no nul"},
		{flagRequestID, "r\x00Traceback (most recent call last):\n  File \"x\"\nE: x\n"},
		{flagRequestID | 0x80, "r\x00a\x00b"},
	} {
		f.Add(s.flags, []byte(s.payload))
	}
	f.Fuzz(func(t *testing.T, flags byte, payload []byte) {
		id, p, err := parseStdioFrame(flags, payload)
		switch {
		case flags&flagRequestID == 0:
			if err != nil || id != "" || !bytes.Equal(p, payload) {
				t.Fatalf("without the flag: %q, %q, %v", id, p, err)
			}
		case err != nil:
			if id != "" || !bytes.Equal(p, payload) {
				t.Fatalf("rejected %q: kept %q, %q", payload, id, p)
			}
		default:
			if id == "" || strings.Contains(id, "\x00") || id+"\x00"+string(p) != string(payload) {
				t.Fatalf("parseStdioFrame(%q) = %q, %q", payload, id, p)
			}
		}
		var buf bytes.Buffer
		s := newStdioLog(slog.New(slog.NewTextHandler(&buf, nil)), newOutputLog())
		s.write(0, flags, payload)
		s.close()
	})
}
