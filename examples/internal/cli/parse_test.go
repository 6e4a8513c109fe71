package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/wsgi"
)

// parse parses args as an example with the server flags and one optional
// positional argument would.
func parse(args []string) (Flags, []string, error) {
	var f Flags
	fs := NewFlagSet("test")
	f.Register(fs, Defaults{Workers: 2})
	pos, err := Parse(fs, "usage: test [flags] module:callable", args)
	if err == nil {
		err = f.Check()
	}
	return f, pos, err
}

func TestParse(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		check   func(f Flags, pos []string) bool
		wantErr string // substring; "" for success
	}{
		{"defaults", nil, func(f Flags, pos []string) bool {
			return len(pos) == 0 && reflect.DeepEqual(f.Binds, []string{wsgi.DefaultBind}) && f.Workers == 2 &&
				f.Threads == 1 && f.Timeout == 30*time.Second && f.StartTimeout == 60*time.Second &&
				f.GracefulTimeout == 30*time.Second && f.Preload && f.AccessLog && !f.AccessLogVerbose &&
				f.Python == DefaultPython() && f.Limits == wsgi.RequestLimits{} && f.ServeConfig(nil, nil).IdleTimeout == 2*time.Minute
		}, ""},
		// Binds systemd's socket activation may replace: none given, Listen
		// gets none (wsgi.Listen binds DefaultBind itself, unless systemd
		// passed only its ops socket: then it fails, saying so).
		{"-bind not given", nil, func(f Flags, _ []string) bool {
			return f.listenConfig().Binds == nil
		}, ""},
		{"-bind given", []string{"-bind", wsgi.DefaultBind}, func(f Flags, _ []string) bool {
			return reflect.DeepEqual(f.listenConfig().Binds, []string{wsgi.DefaultBind})
		}, ""},
		{"flags after the positional", []string{"app:app", "-workers", "3", "-timeout", "5"}, func(f Flags, pos []string) bool {
			return reflect.DeepEqual(pos, []string{"app:app"}) && f.Workers == 3 && f.Timeout == 5*time.Second
		}, ""},
		{"flags around the positional", []string{"-threads", "4", "app:app", "-preload=false"}, func(f Flags, pos []string) bool {
			return reflect.DeepEqual(pos, []string{"app:app"}) && f.Threads == 4 && !f.Preload
		}, ""},
		{"double dash ends the flags", []string{"-workers", "1", "--", "-app"}, func(f Flags, pos []string) bool {
			return reflect.DeepEqual(pos, []string{"-app"}) && f.Workers == 1
		}, ""},
		{"plain seconds", []string{"-timeout", "30", "-graceful-timeout", "2.5", "-start-timeout", "90", "-slow-request", "0.25"}, func(f Flags, _ []string) bool {
			return f.Timeout == 30*time.Second && f.GracefulTimeout == 2500*time.Millisecond &&
				f.StartTimeout == 90*time.Second && f.SlowRequest == 250*time.Millisecond
		}, ""},
		{"go durations", []string{"-timeout", "1m30s", "-max-lifetime", "1h", "-graceful-timeout=500ms"}, func(f Flags, _ []string) bool {
			return f.Timeout == 90*time.Second && f.MaxLifetime == time.Hour && f.GracefulTimeout == 500*time.Millisecond
		}, ""},
		// The django example runs the interpreter itself, in a temporary
		// directory: a relative -python is made absolute first.
		{"relative -python", []string{"-python", "venv/bin/python"}, func(f Flags, _ []string) bool {
			return f.Python == filepath.Join(cwd, "venv", "bin", "python")
		}, ""},
		{"-python on PATH", []string{"-python", "python3"}, func(f Flags, _ []string) bool { return f.Python == "python3" }, ""},
		{"prefetch by default", nil, func(f Flags, _ []string) bool {
			return f.Prefetch == wsgi.DefaultPrefetch && f.Config("a:b", "", nil).Prefetch == wsgi.DefaultPrefetch
		}, ""},
		{"prefetch 3", []string{"-prefetch", "3"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).Prefetch == 3
		}, ""},
		{"prefetch off", []string{"-prefetch", "0"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).Prefetch < 0
		}, ""},
		{"negative prefetch", []string{"-prefetch", "-1"}, nil, "-prefetch must not be negative"},
		{"batch scheduling by default", nil, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).BatchScheduling
		}, ""},
		{"no batch scheduling", []string{"-sched-batch=false"}, func(f Flags, _ []string) bool {
			return !f.Config("a:b", "", nil).BatchScheduling
		}, ""},
		{"no child subreaper by default", nil, func(f Flags, _ []string) bool {
			return !f.Config("a:b", "", nil).ChildSubreaper
		}, ""},
		{"child subreaper", []string{"-child-subreaper"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).ChildSubreaper
		}, ""},
		{"heap floor by default", nil, func(f Flags, _ []string) bool {
			return f.ServeConfig(nil, nil).MinHeap == wsgi.DefaultMinHeap
		}, ""},
		{"heap floor 64 MiB", []string{"-min-heap", "64"}, func(f Flags, _ []string) bool {
			return f.ServeConfig(nil, nil).MinHeap == 64<<20
		}, ""},
		{"no heap floor", []string{"-min-heap", "0"}, func(f Flags, _ []string) bool {
			return f.ServeConfig(nil, nil).MinHeap == 0
		}, ""},
		{"negative heap floor", []string{"-min-heap", "-1"}, nil, "-min-heap must not be negative"},
		{"heap floor past int64", []string{"-min-heap", "8796093022208", "-max-rss", "9000000000000"}, nil, "-max-rss, -min-heap: too many MiB"},
		{"response spill by default", nil, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).ResponseSpill == wsgi.DefaultResponseSpill
		}, ""},
		{"response spill 64 MiB", []string{"-response-spill", "64"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).ResponseSpill == 64<<20
		}, ""},
		{"no response spill", []string{"-response-spill", "0"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).ResponseSpill < 0
		}, ""},
		{"negative response spill", []string{"-response-spill", "-1"}, nil, "-response-spill must not be negative"},
		{"response spill past int64", []string{"-response-spill", "8796093022208"}, nil, "-response-spill: too many MiB"},
		{"no body limit by default", nil, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).MaxBodySize == 0
		}, ""},
		{"body limit 10 MiB", []string{"-max-body-size", "10"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).MaxBodySize == 10<<20
		}, ""},
		{"negative body limit", []string{"-max-body-size", "-1"}, nil, "-max-body-size must not be negative"},
		{"body limit past int64", []string{"-max-body-size", "8796093022208"}, nil, "-max-body-size: too many MiB"},
		{"response head limit by default", nil, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).MaxResponseHeadSize == wsgi.DefaultMaxResponseHeadSize
		}, ""},
		{"response head limit 16 KiB", []string{"-max-response-head-size", "16384"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).MaxResponseHeadSize == 16384
		}, ""},
		{"no response head limit", []string{"-max-response-head-size", "0"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).MaxResponseHeadSize < 0
		}, ""},
		{"negative response head limit", []string{"-max-response-head-size", "-1"}, nil, "-max-response-head-size must not be negative"},
		{"send timeout by default", nil, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).SendTimeout == 60*time.Second
		}, ""},
		{"send timeout 5s", []string{"-send-timeout", "5"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).SendTimeout == 5*time.Second && f.ServeConfig(nil, nil).SendTimeout == 5*time.Second
		}, ""},
		{"no send timeout", []string{"-send-timeout", "0"}, func(f Flags, _ []string) bool {
			return f.Config("a:b", "", nil).SendTimeout < 0 && f.ServeConfig(nil, nil).SendTimeout < 0
		}, ""},
		{"negative send timeout", []string{"-send-timeout", "-1s"}, nil, "-send-timeout must not be negative"},
		{"body timeout by default", nil, func(f Flags, _ []string) bool {
			return f.ServeConfig(nil, nil).BodyTimeout == wsgi.DefaultBodyTimeout
		}, ""},
		{"no body timeout", []string{"-body-timeout", "0"}, func(f Flags, _ []string) bool {
			return f.ServeConfig(nil, nil).BodyTimeout < 0
		}, ""},
		{"negative body timeout", []string{"-body-timeout", "-2"}, nil, "-body-timeout must not be negative"},
		{"negative head limit", []string{"-limit-request-head", "-1"}, nil, "-limit-request-head must not be negative"},
		{"zero timeout", []string{"-timeout", "0"}, func(f Flags, _ []string) bool {
			return f.Timeout == 0 && f.Config("a:b", "", nil).Timeout < 0
		}, ""},
		{"several binds", []string{"-bind", "0.0.0.0:80", "-bind", "unix:/run/app.sock"}, func(f Flags, _ []string) bool {
			return reflect.DeepEqual(f.Binds, []string{"0.0.0.0:80", "unix:/run/app.sock"})
		}, ""},
		{"tls and limits", []string{"-certfile", "c.pem", "-keyfile", "k.pem", "-limit-request-line", "8190", "-limit-request-fields", "50", "-limit-request-field-size", "1000", "-limit-request-head", "131072"}, func(f Flags, _ []string) bool {
			return f.CertFile == "c.pem" && f.KeyFile == "k.pem" && f.Limits == wsgi.RequestLimits{Line: 8190, Fields: 50, FieldSize: 1000, Head: 131072} &&
				f.ServeConfig(nil, nil).Limits == f.Limits
		}, ""},
		{"chdir", []string{"-chdir", dir}, func(f Flags, _ []string) bool { return f.Chdir == dir }, ""},
		{"duration under a nanosecond", []string{"-timeout", "1e-10"}, nil, `invalid value "1e-10" for flag -timeout: under a nanosecond`},
		{"Go duration under a nanosecond", []string{"-graceful-timeout", "0.5ns"}, nil, `invalid value "0.5ns" for flag -graceful-timeout: under a nanosecond`},
		{"a nanosecond", []string{"-timeout", "0.000000001"}, func(f Flags, _ []string) bool { return f.Timeout == time.Nanosecond }, ""},
		{"bad duration", []string{"-timeout", "soon"}, nil, `invalid value "soon" for flag -timeout: want seconds (30, 2.5) or a duration (30s, 1m30s, 500ms)`},
		{"bad duration after the positional", []string{"app:app", "-graceful-timeout", "1x"}, nil, `for flag -graceful-timeout`},
		{"bad int", []string{"-workers", "two"}, nil, `invalid value "two" for flag -workers`},
		{"unknown flag", []string{"-worker", "2"}, nil, "flag provided but not defined: -worker"},
		// -static-max-age: 60 s by default (fallback.Static's), 0 is
		// Flask's no-cache, which Static writes as a negative MaxAge.
		{"static max-age default", nil, func(f Flags, _ []string) bool { return f.Files.StaticMaxAge == 0 }, ""},
		{"static max-age", []string{"-static-max-age", "3600"}, func(f Flags, _ []string) bool { return f.Files.StaticMaxAge == time.Hour }, ""},
		{"static no-cache", []string{"-static-max-age", "0"}, func(f Flags, _ []string) bool { return f.Files.StaticMaxAge < 0 }, ""},
		{"negative static max-age", []string{"-static-max-age", "-5"}, nil, "-static-max-age must not be negative"},
		// gunicorn's own flags name graft's counterpart, or say there is none.
		{"gunicorn's -w", []string{"app:app", "-w", "4"}, nil, "flag provided but not defined: -w (gunicorn's; here: -workers)"},
		{"gunicorn's -b", []string{"-b", ":8000", "app:app"}, nil, "flag provided but not defined: -b (gunicorn's; here: -bind)"},
		{"gunicorn's -t", []string{"-t", "30"}, nil, "flag provided but not defined: -t (gunicorn's; here: -timeout)"},
		{"gunicorn's --worker-class", []string{"--worker-class=gthread"}, nil, "-worker-class (gunicorn's; here: -threads N for gthread"},
		{"gunicorn's -c", []string{"-c", "gunicorn.conf.py"}, nil, "-c (gunicorn's; here: no config file: give its settings as flags, see docs/operations.md#coming-from-gunicorn)"},
		{"gunicorn's --access-logfile", []string{"--access-logfile", "-"}, nil, "-access-logfile (gunicorn's; here: the access log goes to standard error"},
		{"gunicorn's --daemon", []string{"--daemon"}, nil, "-daemon (gunicorn's; here: none: run it under systemd"},
		{"missing value", []string{"app:app", "-timeout"}, nil, "flag needs an argument: -timeout"},
		{"negative", []string{"-timeout", "-1", "-max-requests", "-5"}, nil, "-max-requests, -timeout must not be negative"},
		{"no threads", []string{"-threads", "0"}, nil, "-threads must be at least 1"},
		// 0 is no value of either: the container and the serve loop would
		// take it for their default (60s, 30s), not what was asked.
		{"zero start timeout", []string{"-start-timeout", "0"}, nil, "-start-timeout must be more than 0"},
		{"zero graceful timeout", []string{"-graceful-timeout", "0s"}, nil, "-graceful-timeout must be more than 0"},
		{"zero keep-alive", []string{"-keep-alive", "0"}, nil, "-keep-alive must be more than 0"},
		{"h2c", []string{"-h2c"}, func(f Flags, pos []string) bool { return f.ServeConfig(nil, nil).H2C }, ""},
		{"h2c with TLS", []string{"-h2c", "-certfile", file, "-keyfile", file}, nil, "-h2c is for plain HTTP"},
		{"keep-alive drain by default", nil, func(f Flags, pos []string) bool {
			return f.ServeConfig(nil, nil).KeepAliveDrain == 0
		}, ""},
		{"default keep-alive drain, short grace", []string{"-graceful-timeout", "2"}, func(f Flags, pos []string) bool {
			return f.ServeConfig(nil, nil).KeepAliveDrain == 0 // Serve bounds it: 500ms
		}, ""},
		{"keep-alive drain 60s", []string{"-keep-alive-drain", "60", "-graceful-timeout", "240"}, func(f Flags, pos []string) bool {
			return f.ServeConfig(nil, nil).KeepAliveDrain == 60*time.Second
		}, ""},
		{"no keep-alive drain", []string{"-keep-alive-drain", "0"}, func(f Flags, pos []string) bool {
			return f.ServeConfig(nil, nil).KeepAliveDrain < 0
		}, ""},
		{"keep-alive drain over a quarter of the grace", []string{"-keep-alive-drain", "60"}, nil,
			"-keep-alive-drain 1m0s is more than a quarter of -graceful-timeout (30s): make -graceful-timeout at least 4m0s"},
		{"negative keep-alive drain", []string{"-keep-alive-drain", "-1"}, nil, "-keep-alive-drain must not be negative"},
		{"keep-alive", []string{"-keep-alive", "75"}, func(f Flags, pos []string) bool {
			return f.ServeConfig(nil, nil).IdleTimeout == 75*time.Second
		}, ""},
		{"cert without key", []string{"-certfile", "c.pem"}, nil, "-certfile and -keyfile go together"},
		{"missing chdir", []string{"-chdir", "/nonexistent/app"}, nil, "cannot chdir to /nonexistent/app: no such file or directory"},
		{"chdir to a file", []string{"-chdir", file}, nil, "cannot chdir to " + file + ": not a directory"},
		{"empty bind", []string{"-bind", ""}, nil, `invalid value "" for flag -bind: wsgi: bind "": want host:port`},
		{"port out of range", []string{"-bind", ":65536"}, nil, `invalid value ":65536" for flag -bind: wsgi: bind ":65536": the port is not a number up to 65535 or a service name`},
		{"service name", []string{"-bind", "127.0.0.1:http", "-metrics-bind", "unix:/run/ops.sock"}, func(f Flags, _ []string) bool {
			return f.Binds[0] == "127.0.0.1:http" && f.MetricsBind == "unix:/run/ops.sock"
		}, ""},
		{"bad metrics bind", []string{"-metrics-bind", "9100"}, nil, `invalid value "9100" for flag -metrics-bind: wsgi: bind "9100": want host:port`},
		// -socket-mode: the Unix sockets' permission bits, in octal
		// (gunicorn's umask 0 makes them 0777; graft's default is 0660).
		{"socket mode by default", nil, func(f Flags, _ []string) bool { return f.SocketMode == 0o660 }, ""},
		{"socket mode 0666", []string{"-socket-mode", "0666"}, func(f Flags, _ []string) bool { return f.SocketMode == 0o666 }, ""},
		{"socket mode 666", []string{"-socket-mode", "666"}, func(f Flags, _ []string) bool { return f.SocketMode == 0o666 }, ""},
		{"socket mode 0o777", []string{"-socket-mode=0o777"}, func(f Flags, _ []string) bool { return f.SocketMode == 0o777 }, ""},
		{"socket mode 600", []string{"-socket-mode", "600"}, func(f Flags, _ []string) bool { return f.SocketMode == 0o600 }, ""},
		{"socket mode not octal", []string{"-socket-mode", "0668"}, nil, `invalid value "0668" for flag -socket-mode: want octal permission bits up to 0777, such as 0660 or 0666`},
		{"socket mode words", []string{"-socket-mode", "rw-rw-rw-"}, nil, `invalid value "rw-rw-rw-" for flag -socket-mode: want octal permission bits`},
		{"socket mode empty", []string{"-socket-mode", ""}, nil, `invalid value "" for flag -socket-mode: want octal permission bits`},
		{"socket mode setuid", []string{"-socket-mode", "4777"}, nil, `invalid value "4777" for flag -socket-mode: want octal permission bits up to 0777`},
		{"socket mode huge", []string{"-socket-mode", "077777777777777777777777"}, nil, `for flag -socket-mode: want octal permission bits`},
		{"socket mode negative", []string{"-socket-mode", "-660"}, nil, `for flag -socket-mode: want octal permission bits`},
		{"socket mode zero", []string{"-socket-mode", "0"}, nil, `invalid value "0" for flag -socket-mode: 0 would let only root connect`},
		{"socket mode 0o", []string{"-socket-mode", "0o"}, nil, `invalid value "0o" for flag -socket-mode: want octal permission bits`},
		{"gunicorn's --umask", []string{"--umask", "0"}, nil, "-umask (gunicorn's; here: -socket-mode MODE for the -bind unix: sockets (0777 &^ umask: umask 0 is -socket-mode 0777); the workers' own files keep graft's umask"},
		{"gunicorn's -m", []string{"-m", "007"}, nil, "-m (gunicorn's; here: -socket-mode MODE"},
		{"too many threads", []string{"-workers", "64", "-threads", "1024"}, nil, "-workers times -threads (64*1024) is more than 32768"},
		{"the most threads", []string{"-workers", "32", "-threads", "1024"}, func(f Flags, _ []string) bool { return f.Workers*f.Threads == wsgi.MaxThreads }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, pos, err := parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse(%q): error %v; want %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.args, err)
			}
			if !tc.check(f, pos) {
				t.Errorf("parse(%q): %+v, positional %q", tc.args, f, pos)
			}
		})
	}
}

// -h, -help and --help print the usage on stdout and exit 0; a mistake
// prints one line naming it and exits 2, not the usage.
func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		args               []string
		code               int
		stdout, stderr     string // substrings
		notStdout, notErrs string
	}{
		{[]string{"-h"}, 0, "usage: test [flags] module:callable\n\nFlags may come before", "", "", ""},
		{[]string{"--help"}, 0, "-timeout TIMEOUT", "", "", ""},
		{[]string{"app:app", "-help"}, 0, "-limit-request-field-size", "", "", ""},
		{[]string{"-timeout", "x"}, 2, "", "test: invalid value \"x\" for flag -timeout: want seconds (30, 2.5) or a duration (30s, 1m30s, 500ms)\nRun 'test -h' for the flags.\n", "", "-access-log"},
		{[]string{"-chdir", "/nonexistent"}, 1, "", "test: wsgi: cannot chdir to /nonexistent: no such file or directory\n", "", "flags"},
		{[]string{"-bind", "foo"}, 2, "", "test: invalid value \"foo\" for flag -bind: wsgi: bind \"foo\": want host:port or unix:/path/to.sock\nRun 'test -h' for the flags.\n", "", ""},
		{[]string{"-threads", "40000"}, 2, "", "test: -workers times -threads", "", ""},
		{[]string{"-static", "/s/=/nonexistent"}, 1, "", "test: -static /s/=/nonexistent: no such file or directory\n", "", "flags"},
		{nil, 0, "", "", "usage", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := parse(tc.args)
			var stdout, stderr bytes.Buffer
			code := exitCode("test", err, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) ||
				(tc.notStdout != "" && strings.Contains(stdout.String(), tc.notStdout)) ||
				(tc.notErrs != "" && strings.Contains(stderr.String(), tc.notErrs)) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
			if tc.code == 0 && tc.stdout != "" && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("error %v is not flag.ErrHelp", err)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30", 30 * time.Second, true}, {"0", 0, true}, {"0.5", 500 * time.Millisecond, true},
		{"30s", 30 * time.Second, true}, {"1m30s", 90 * time.Second, true}, {"250ms", 250 * time.Millisecond, true},
		{"-1", -time.Second, true}, {"", 0, false}, {"NaN", 0, false}, {"inf", 0, false}, {"0x10", 0, false},
		{"1e300", 0, false}, {"thirty", 0, false}, {"30 s", 0, false},
	} {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestDefaultPython(t *testing.T) {
	t.Setenv("GRAFT_PYTHON", "/opt/venv/bin/python")
	if got := DefaultPython(); got != "/opt/venv/bin/python" {
		t.Errorf("DefaultPython with GRAFT_PYTHON: %q", got)
	}
	t.Setenv("GRAFT_PYTHON", "")
	want := "python3"
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		want = "/usr/bin/python3"
	}
	if got := DefaultPython(); got != want {
		t.Errorf("DefaultPython: %q; want %q", got, want)
	}
}

// The default access line stays short; -access-log-verbose logs every
// field.
func TestAccessLogOptions(t *testing.T) {
	if o := AccessLogOptions(true); o.Schema.RequestUserAgent == "" {
		t.Error("verbose access log without the user agent")
	}
	o := AccessLogOptions(false)
	if o.Schema.RequestUserAgent != "" || o.Schema.RequestURL != "" || o.Schema.RequestRemoteIP == "" || len(o.LogRequestHeaders) != 0 {
		t.Errorf("concise access log options: %+v", o.Schema)
	}
}

// The default line, as a terminal shows it: duration rounded to three
// digits, client without port, no route for the fallback.
func TestConciseLine(t *testing.T) {
	var buf bytes.Buffer
	r := (&Flags{AccessLog: true}).NewRouter(slog.New(slog.NewTextHandler(&buf, nil)), nil)
	r.Get("/x", func(w http.ResponseWriter, _ *http.Request) { time.Sleep(2262375 * time.Nanosecond) })
	r.Fallback(http.NotFoundHandler())
	for _, tc := range []struct{ path, want, not string }{
		{"/x", "http.route=/x graft.target=go", ""},
		{"/nope", "graft.target=fallback", "http.route"},
	} {
		buf.Reset()
		req := httptest.NewRequest("GET", tc.path, nil)
		req.RemoteAddr = "192.0.2.7:41234"
		r.ServeHTTP(httptest.NewRecorder(), req)
		line := buf.String()
		if !regexp.MustCompile(`msg="GET `+tc.path+` => HTTP \d{3} \((\d{3}|\d{2}\.\d|\d\.\d{1,2}|\d{1,2})(ns|µs|ms)\)" client=192\.0\.2\.7 bytes=\d+ request\.id=`).MatchString(line) ||
			!strings.Contains(line, tc.want) || tc.not != "" && strings.Contains(line, tc.not) {
			t.Errorf("line %q", line)
		}
	}
}

// TestForwardedFlags: -forwarded-allow-ips and its companions decide whose
// forwarding headers are believed, and a client's own are removed with the
// access log on or off (before, -access-log=false passed them to the app).
func TestForwardedFlags(t *testing.T) {
	type seen struct{ remote, scheme, host, xff, fwd string }
	for _, tc := range []struct {
		name   string
		args   []string
		header http.Header
		want   seen
	}{
		{"nobody trusted", nil,
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}},
			seen{"127.0.0.1:5000", "http", "app.example", "", ""}},
		{"nobody trusted, no access log", []string{"-access-log=false"},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"for=1.2.3.4"}},
			seen{"127.0.0.1:5000", "http", "app.example", "", ""}},
		{"local proxy", []string{"-forwarded-allow-ips", "127.0.0.1"},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}},
			seen{"203.0.113.9:0", "https", "app.example", "", ""}},
		{"list, no access log", []string{"-forwarded-allow-ips", "10.0.0.0/8, 127.0.0.1", "-access-log=false"},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}},
			seen{"203.0.113.9:0", "https", "app.example", "", ""}},
		{"other proxy", []string{"-forwarded-allow-ips", "10.0.0.1", "-forwarded-allow-ips", "::1"},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}},
			seen{"127.0.0.1:5000", "http", "app.example", "", ""}},
		{"Forwarded, every address", []string{"-forwarded-allow-ips", "*", "-forwarded-header", "forwarded"},
			http.Header{"Forwarded": {"for=198.51.100.1;proto=https"}, "X-Forwarded-For": {"203.0.113.9"}},
			seen{"198.51.100.1:0", "https", "app.example", "", ""}},
		{"host", []string{"-forwarded-allow-ips", "127.0.0.1", "-forwarded-host"},
			http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Host": {"www.example"}},
			seen{"203.0.113.9:0", "http", "www.example", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, err := parse(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			r := f.NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			var got seen
			r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				got = seen{req.RemoteAddr, middleware.Scheme(req), req.Host, req.Header.Get("X-Forwarded-For"), req.Header.Get("Forwarded")}
			}))
			req := httptest.NewRequest("GET", "http://app.example/", nil)
			req.RemoteAddr = "127.0.0.1:5000"
			req.Header = tc.header
			r.ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Errorf("handler saw %+v, want %+v", got, tc.want)
			}
		})
	}
	for _, bad := range [][]string{
		{"-forwarded-allow-ips", "nope"},
		{"-forwarded-allow-ips", "10.0.0.0/33"},
		{"-forwarded-allow-ips", "127.0.0.1", "-forwarded-header", "x-real-ip"},
		{"-forwarded-host"},
		{"-forwarded-header", "forwarded"},
		{"-proxy-protocol", "10.0.0.0/8,nope"},
	} {
		var usage *UsageError
		if _, _, err := parse(bad); !errors.As(err, &usage) {
			t.Errorf("%q: got %v, want a usage error", bad, err)
		}
	}
}

// TestLogFlags: -log-level filters the log, -log-format picks text lines
// (tracebacks below them) or JSON objects.
func TestLogFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings of the output; none: nothing logged
	}{
		{"defaults", nil, []string{"level=INFO msg=info", "level=WARN msg=warn"}},
		{"warning", []string{"-log-level", "warning"}, []string{"level=WARN msg=warn"}},
		{"debug, json", []string{"-log-level", "DEBUG", "-log-format", "json"},
			[]string{`"level":"DEBUG","msg":"debug"`, `"level":"INFO","msg":"info"`, `"level":"WARN","msg":"warn"`}},
		{"error", []string{"-log-level", "error"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, err := parse(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := f.Logger(&buf)
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			out := buf.String()
			if n := strings.Count(out, "\n"); n != len(tc.want) {
				t.Errorf("%d lines, want %d:\n%s", n, len(tc.want), out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
		})
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"-log-level", "verbose"}, `-log-level "verbose": want debug, info, warning or error`},
		// gunicorn's loglevel = "critical", translated as the table says: the
		// line said only what it wants, not why critical is not among them
		{[]string{"-log-level", "critical"}, `-log-level "critical": want debug, info, warning or error (gunicorn's critical has no counterpart: Python's CRITICAL records are logged at ERROR; use error)`},
		{[]string{"-log-format", "logfmt"}, `-log-format "logfmt": want text or json`},
	} {
		var usage *UsageError
		if _, _, err := parse(bad.args); !errors.As(err, &usage) || err.Error() != bad.want {
			t.Errorf("%q: got %v, want the usage error %q", bad.args, err, bad.want)
		}
	}
}
