package pythontest

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// UWSGIPackages is the apt-get line that installs what [UWSGIOn] runs:
// Debian's uwsgi and its Python 3 plugin (which embeds Debian's Python,
// /usr/bin/python3's, whatever $GRAFT_PYTHON says).
const UWSGIPackages = "apt-get install -y uwsgi uwsgi-plugin-python3"

// UWSGIOn runs a real uWSGI (Debian's /usr/bin/uwsgi with its python3
// plugin, as a further opinion where graft and gunicorn differ) serving
// app (module:callable) from dir on the listening socket f (TCP or Unix,
// closed here once uWSGI has it) handed over as fd 3 (--http-socket
// fd://3), as [GunicornOn] does, with a master, one worker process of
// two threads and no request log. args are more uWSGI options, after
// those (so "--processes", "2" wins); with "--https-socket" among them
// (its value "fd://3,cert.pem,key.pem"), uWSGI serves TLS on f instead of
// plain HTTP. It returns uWSGI's log. The test fails, with the apt-get
// line to run, if uwsgi or its python3 plugin is missing.
func UWSGIOn(t testing.TB, f *os.File, dir, app string, args ...string) (logs *Buffer) {
	t.Helper()
	bin, err := exec.LookPath("uwsgi")
	if err != nil {
		f.Close()
		t.Fatalf("uwsgi not found (%s): %v", UWSGIPackages, err)
	}
	if out, err := exec.Command(bin, "--need-plugin", "python3", "--version").CombinedOutput(); err != nil {
		f.Close()
		t.Fatalf("uwsgi has no python3 plugin (%s): %v\n%s", UWSGIPackages, err, out)
	}
	argv := []string{"--need-plugin", "python3"}
	if !slices.Contains(args, "--https-socket") {
		argv = append(argv, "--http-socket", "fd://3")
	}
	argv = append(argv, "--master", "--processes", "1", "--threads", "2", "--chdir", dir, "--module", app,
		"--need-app", "--disable-logging")
	return startOn(t, "uwsgi", exec.Command(bin, append(argv, args...)...), f)
}
