package wsgi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// TestLogFrame: the LOG frame's payload, with and without the request id
// (flagRequestID), and what Go logs for it; a malformed payload is one
// WARN line saying what is wrong, never a panic or a record of garbage.
func TestLogFrame(t *testing.T) {
	cases := []struct {
		name    string
		flags   byte
		payload string
		want    map[string]any // the logged record (JSON), less time
	}{
		{"plain", 0, "30\x00app\x00hello", map[string]any{"level": "WARN", "msg": "hello", logLogger: "app"}},
		{"message with NULs", 0, "20\x00app\x00a\x00b", map[string]any{"level": "INFO", "msg": "a\x00b", logLogger: "app"}},
		{"debug", 0, "10\x00a.b\x00m", map[string]any{"level": "DEBUG", "msg": "m", logLogger: "a.b"}},
		{"negative level", 0, "-5\x00a\x00m", map[string]any{"level": "DEBUG", "msg": "m", logLogger: "a"}},
		{"empty message", 0, "40\x00root\x00", map[string]any{"level": "ERROR", "msg": "", logLogger: "root"}},
		{"request id", flagRequestID, "rid-1\x0030\x00app\x00hello", map[string]any{"level": "WARN", "msg": "hello", logLogger: "app", logRequestID: "rid-1"}},
		{"request id, message with NULs", flagRequestID, "01J\x0050\x00app\x00x\x00y", map[string]any{"level": "ERROR", "msg": "x\x00y", logLogger: "app", logRequestID: "01J"}},
		{"other flags ignored", 0x80, "20\x00app\x00m", map[string]any{"level": "INFO", "msg": "m", logLogger: "app"}},
		// Malformed: one WARN line.
		{"empty", 0, "", malformed("no NUL after the level")},
		{"no logger", 0, "30\x00hello", malformed("no NUL after the logger name")},
		{"level not a number", 0, "WARNING\x00app\x00hello", malformed(`level "WARNING" is not a number`)},
		{"id without the flag", 0, "rid-1\x0030\x00app\x00hello", malformed(`level "rid-1" is not a number`)},
		{"flag without an id", flagRequestID, "30\x00app\x00hello", malformed(`level "app" is not a number`)},
		{"flag, nothing", flagRequestID, "", malformed("no NUL after the request id")},
		{"flag, only an id", flagRequestID, "rid-1", malformed("no NUL after the request id")},
		{"flag, empty id", flagRequestID, "\x0030\x00app\x00m", malformed("empty request id")},
		{"flag, no message", flagRequestID, "rid\x0030\x00app", malformed("no NUL after the logger name")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			logRecord(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), tc.flags, []byte(tc.payload))
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1:\n%s", len(lines), buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatal(err)
			}
			delete(got, "time")
			if prefix, ok := tc.want["error-prefix"].(string); ok {
				e, _ := got[logError].(string)
				if got["level"] != "WARN" || got["msg"] != "wsgi: a worker sent a malformed logging record" ||
					!strings.HasPrefix(e, prefix) || len(got) != 3 {
					t.Errorf("got %v, want a WARN line with error %q...", got, prefix)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q (record %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// malformed is what TestLogFrame wants for a malformed payload: a WARN
// line whose error starts so.
func malformed(why string) map[string]any {
	return map[string]any{"error-prefix": "wsgi: malformed LOG frame: " + why + " (payload "}
}

// FuzzLogFrame: any LOG payload, with or without flagRequestID, is
// either decoded as the NUL-separated fields it is (the message last,
// NULs and all; a non-empty id first with the flag) or rejected with an
// error, and logRecord logs exactly one line for it, without panicking.
func FuzzLogFrame(f *testing.F) {
	for _, s := range []struct {
		flags   byte
		payload string
	}{
		{0, "30\x00app\x00hello"},
		{0, "20\x00app\x00a\x00b"},
		{0, ""},
		{0, "x\x00\x00"},
		{0, "99999999999999999999\x00a\x00b"},
		{flagRequestID, "rid-1\x0030\x00app\x00hello"},
		{flagRequestID, "01a22e5d-38d6-7000-ab73-0a2d795a1858\x0040\x00django.request\x00Internal Server Error: /boom/\nTraceback"},
		{flagRequestID, "\x0030\x00app\x00m"},
		{flagRequestID, "rid"},
		{flagRequestID, "rid\x00"},
		{flagRequestID, "rid\x0030\x00app"},
		{flagRequestID, "\xff\xfe\x0030\x00\xff\x00\xff"},
		{flagRequestID | 0x80, "r\x00-1\x00\x00"},
	} {
		f.Add(s.flags, []byte(s.payload))
	}
	f.Fuzz(func(t *testing.T, flags byte, payload []byte) {
		got, err := parseLogFrame(flags, payload)
		fields := strings.SplitN(string(payload), "\x00", 3)
		withID := flags&flagRequestID != 0
		if withID {
			fields = strings.SplitN(string(payload), "\x00", 4)
		}
		valid := len(fields) == 3 && !withID || len(fields) == 4 && withID && fields[0] != ""
		var lvl int
		if valid {
			if withID {
				fields = fields[1:]
			}
			var perr error
			lvl, perr = strconv.Atoi(fields[0])
			valid = perr == nil
		}
		if (err == nil) != valid {
			t.Fatalf("parseLogFrame(%d, %q): error %v, want valid=%v", flags, payload, err, valid)
		}
		if err == nil {
			want := logFrame{level: pythonLevel(lvl), logger: fields[1], msg: fields[2]}
			if withID {
				want.requestID = strings.SplitN(string(payload), "\x00", 2)[0]
			}
			if got != want {
				t.Fatalf("parseLogFrame(%d, %q) = %+v, want %+v", flags, payload, got, want)
			}
		} else if !strings.HasPrefix(err.Error(), errLogFrame.Error()+": ") {
			t.Fatalf("error %q lacks the prefix %q", err, errLogFrame)
		}
		var buf bytes.Buffer
		logRecord(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), flags, payload)
		if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
			t.Fatalf("logRecord(%d, %q) logged %d lines:\n%s", flags, payload, n, buf.Bytes())
		}
	})
}
