package opstest

import (
	"errors"
	"strings"
	"testing"

	"github.com/graft-dev/graft/examples/internal/cli"
)

// UsageErrors checks run, an example's command, against cli.Main's rule:
// a mistake in the command line itself (a malformed address, a value past
// its limit) is a *cli.UsageError naming its flag (exit status 2), and a
// directory that does not exist a plain error (exit status 1), both before
// Python starts (its -python does not exist). admin says whether the
// command has the migration's -admin-bind.
func UsageErrors(t *testing.T, run func(args []string) error, admin bool) {
	t.Helper()
	tests := []struct {
		args  []string
		usage bool
		want  string // in the error
	}{
		{[]string{"-bind", "foo"}, true, `flag -bind: wsgi: bind "foo": want host:port or unix:/path/to.sock`},
		{[]string{"-bind", "127.0.0.1:99999"}, true, `flag -bind: wsgi: bind "127.0.0.1:99999": the port is not a number up to 65535`},
		{[]string{"-bind", "unix:"}, true, "flag -bind: "},
		{[]string{"-bind", ""}, true, "flag -bind: "},
		{[]string{"-metrics-bind", "localhost"}, true, "flag -metrics-bind: "},
		{[]string{"-admin-bind", "9091"}, true, "flag -admin-bind: "},
		{[]string{"-admin-bind", "unix:/tmp/admin.sock"}, true, "flag -admin-bind: want host:port"},
		{[]string{"-workers", "40000"}, true, "-workers times -threads (40000*1) is more than 32768"},
		{[]string{"-workers", "2", "-threads", "20000"}, true, "-workers times -threads (2*20000) is more than 32768"},
		{[]string{"-workers", "4294967296", "-threads", "4294967296"}, true, "-workers times -threads"}, // the product overflows to 0
		{[]string{"-forwarded-allow-ips", "10.0.0.0/33"}, true, "-forwarded-allow-ips: "},
		{[]string{"-forwarded-host"}, true, "need -forwarded-allow-ips"},
		{[]string{"-proxy-protocol", "nope"}, true, "-proxy-protocol: load balancer"},
		{[]string{"-log-level", "verbose"}, true, "-log-level"},
		{[]string{"-keep-alive", "0"}, true, "-keep-alive must be more than 0"},
		{[]string{"-socket-mode", "0668"}, true, "flag -socket-mode: want octal permission bits up to 0777"},
		{[]string{"-socket-mode", "0"}, true, "flag -socket-mode: 0 would let only root connect"},
		{[]string{"-umask", "0"}, true, "-umask (gunicorn's; here: -socket-mode MODE"},
		{[]string{"-max-body-size", "-1"}, true, "-max-body-size must not be negative"},
		{[]string{"-max-body-size", "8796093022208"}, true, "-max-body-size: too many MiB"},
		{[]string{"-max-body-size", "1M"}, true, "-max-body-size"},
		{[]string{"-child-subreaper=sometimes"}, true, "-child-subreaper"},
		{[]string{"-static", "/s/=/nonexistent/static"}, false, "-static /s/=/nonexistent/static: no such file or directory"},
		{[]string{"-sendfile-root", "/nonexistent/files"}, false, "-sendfile-root /nonexistent/files: no such file or directory"},
	}
	for _, tc := range tests {
		if !admin && tc.args[0] == "-admin-bind" {
			continue
		}
		err := run(append(tc.args, "-python", "/nonexistent/python"))
		var usage *cli.UsageError
		switch {
		case err == nil:
			t.Errorf("run(%q): no error", tc.args)
		case errors.As(err, &usage) != tc.usage:
			t.Errorf("run(%q): %v; want a usage error (exit 2): %v", tc.args, err, tc.usage)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("run(%q): %v; want it to say %q", tc.args, err, tc.want)
		}
	}
}
