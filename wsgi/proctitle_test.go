package wsgi

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// A worker's command line, which ps, top and systemctl status show, says
// at its start that it is graft's and which app it serves: the -c
// program's first line is a comment naming them. Forked workers inherit
// the zygote's, so preload or not they read the same. Before, the line
// began with the bootstrap's code (import linecache with open(4, "rb")
// as f: ...) and the app came after it, out of sight in a terminal.
func TestWorkerCommandLine(t *testing.T) {
	for _, preload := range []bool{true, false} {
		t.Run("preload="+strconv.FormatBool(preload), func(t *testing.T) {
			c, _ := newContainer(t, Config{App: "opsapp:app", Workers: 1, NoPreload: !preload})
			ws := c.Status().Workers
			if len(ws) == 0 {
				t.Fatal("no worker")
			}
			b, err := os.ReadFile("/proc/" + strconv.Itoa(ws[0].PID) + "/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			args := strings.Split(string(b), "\x00")
			if len(args) < 3 || args[1] != "-c" || !strings.HasPrefix(args[2], "# graft worker: opsapp:app\n") {
				t.Errorf("worker %d's command line %q: want python -c '# graft worker: opsapp:app\\n...'", ws[0].PID, args[:min(len(args), 3)])
			}
		})
	}
}
