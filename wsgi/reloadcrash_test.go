package wsgi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A reload to code whose process ends at import without a Python
// exception (os._exit, a signal) fails with a *LoadError that says which
// process ended and how, once: the log line's error is that sentence, not
// repeated under error.stack_trace, and the process's last output, logged
// as it wrote it, is not logged again (it stays in the error's text).
func TestReloadCrashLoggedOnce(t *testing.T) {
	const good = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"
	const exits = "import os, sys\nprint('crash-marker: giving up', file=sys.stderr, flush=True)\nos._exit(7)\n"
	const killed = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
	for _, tc := range []struct {
		name    string
		preload bool
		code    string
		want    string // the error, after `failed to load: `
	}{
		{"exit in the preload process", true, exits, `the preload process ended before loading it (exit status 7)`},
		{"exit in a worker", false, exits, ` ended before loading it (exit status 7)`},
		{"preload process killed", true, killed, `the preload process ended before loading it (killed by signal 9`},
		{"worker killed", false, killed, ` ended before loading it (killed by signal 9`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "crashapp.py")
			if err := os.WriteFile(file, []byte(good), 0o644); err != nil {
				t.Fatal(err)
			}
			c, logs := newContainer(t, Config{App: "crashapp:app", Dir: dir, NoPreload: !tc.preload, StartTimeout: 20 * time.Second})
			if err := os.WriteFile(file, []byte(tc.code), 0o644); err != nil {
				t.Fatal(err)
			}
			err := c.Reload(context.Background())
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Reload: %v; want a *LoadError", err)
			}
			if le.Exit == "" || !strings.Contains(err.Error(), "failed to load: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Reload: %q (Exit %q); want it to say %q", err, le.Exit, tc.want)
			}
			if strings.Contains(le.Exit, "EOF") || strings.Count(err.Error(), "before loading") != 1 {
				t.Errorf("Reload: %q; want how the process ended once, without the socket's EOF", err)
			}
			line := logLine(logs, "reload failed")
			if !strings.Contains(line, tc.want) || strings.Contains(line, logTraceback) {
				t.Errorf("reload failed line %q; want the error once, saying %q, without %s", line, tc.want, logTraceback)
			}
			if tc.code == exits {
				if n := strings.Count(logs.String(), "crash-marker: giving up"); n != 1 {
					t.Errorf("the process's output is in the log %d times; want once:\n%s", n, logs)
				}
				if !strings.Contains(err.Error(), "\ncrash-marker: giving up") {
					t.Errorf("Reload: %q; want the process's last output after the first line", err)
				}
			}
		})
	}
}
