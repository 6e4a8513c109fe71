package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/graft-dev/graft/bench/internal/sysinfo"
)

// Results is everything one run of the suite measured.
type Results struct {
	Machine  Machine
	Command  string
	Rounds   int
	Secs     float64
	Started  string
	Finished string
	Runs     []Run // one per server, case, worker count and round
	GoCPU    []Run // the Go CPU measurement
	// PeersBatch: the peers ran under SCHED_BATCH (-peers-sched-batch).
	PeersBatch bool `json:",omitempty"`
	// RenderedFrom: these results were read back from a -json file
	// (-from), not measured by this process.
	RenderedFrom bool `json:"-"`
}

// Run is one measured wrk run against one server.
type Run struct {
	Server, Case   string
	Workers, Round int
	RPS            float64
	P50ms, P99ms   float64
	Requests       int64
	Errors         int64
	GoCPUus        float64 // CPU of the Go process per request, µs
	PyCPUus        float64 // CPU of the other processes (Python) per request, µs
	PeakMiB        float64 // sum of VmHWM over the process tree
	GoPeakMiB      float64 // VmHWM of the Go process
	Error          string  `json:",omitempty"`
}

// Machine describes where the suite ran.
type Machine struct {
	CPU, Cores, Kernel, LoadStart, LoadEnd string
	Go, Python, Packages, UWSGI, Wrk       string
}

func machine(python string) Machine {
	m := Machine{Cores: strconv.Itoa(runtime.NumCPU()), Go: runtime.Version(), LoadStart: sysinfo.LoadAverage(), Wrk: wrkVersion()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m.CPU = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	} else {
		m.Kernel = runtime.GOOS
	}
	out, _ := exec.Command(python, "-c", `import sys, flask, django, gunicorn, tornado, waitress, importlib.metadata as md
print(sys.version.split()[0])
print("Flask %s, Django %s, gunicorn %s, Tornado %s, waitress %s" % (md.version("flask"), django.get_version(), gunicorn.__version__, tornado.version, md.version("waitress")))`).Output()
	if l := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2); len(l) == 2 {
		m.Python, m.Packages = python+" "+l[0], l[1]
	}
	if out, err := exec.Command("uwsgi", "--version").Output(); err == nil {
		m.UWSGI = strings.TrimSpace(string(out))
	}
	return m
}
