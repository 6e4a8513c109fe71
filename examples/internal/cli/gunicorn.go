package cli

import (
	"fmt"
	"strings"
)

// gunicornFlag returns what to use instead of gunicorn's flag name
// (without its dashes) when graft has no flag of that name, or "" when
// name is not one of gunicorn's. Flags whose gunicorn name graft shares
// (-workers, -threads, -timeout, ...) never get here.
func gunicornFlag(name string) string {
	switch name {
	case "w":
		return "-workers"
	case "b":
		return "-bind"
	case "t":
		return "-timeout"
	case "k", "worker-class", "worker-connections":
		return "-threads N for gthread, 1 (the default) for sync; there are no other worker classes"
	case "c", "config":
		return "no config file: give its settings as flags, see docs/operations.md#coming-from-gunicorn"
	case "access-logfile", "error-logfile", "log-file", "access-logformat", "capture-output", "loglevel":
		return "the access log goes to standard error with the workers' output (-access-log, -access-log-verbose, -log-level, -log-format)"
	case "m", "umask":
		// Not taken as -socket-mode: gunicorn's umask is its whole
		// process's, which the files the app creates get too.
		return "-socket-mode MODE for the -bind unix: sockets (0777 &^ umask: umask 0 is -socket-mode 0777); the workers' own files keep graft's umask (systemd's UMask=, or the shell's umask)"
	case "D", "daemon", "p", "pid", "u", "user", "g", "group", "worker-tmp-dir":
		return "none: run it under systemd or a container runtime, see docs/operations.md#running-under-systemd"
	case "e", "env", "pythonpath":
		return "none: the workers inherit graft's environment (PYTHONPATH too)"
	case "proxy-allow-from":
		return "-proxy-protocol ADDRS"
	case "statsd-host":
		return "-metrics-bind ADDR (Prometheus /metrics)"
	case "keepalive":
		return "-keep-alive"
	}
	return ""
}

// withGunicornHint adds to flag's "flag provided but not defined" error,
// for one of gunicorn's flags, what to use instead.
func withGunicornHint(err error) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err
	}
	hint := gunicornFlag(name)
	if hint == "" {
		return err
	}
	return fmt.Errorf("%w (gunicorn's; here: %s)", err, hint)
}
