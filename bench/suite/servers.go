package main

import (
	"embed"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// apps are the Python apps and wrk scripts, written to a temporary
// directory at start.
//
//go:embed apps
var apps embed.FS

// caseDef is one benchmark case: an app, a request (or a wrk script) and
// a load.
type caseDef struct {
	Name   string
	Title  string
	App    string // module:callable in apps/
	Path   string // request path
	Script string // wrk Lua script in apps/, or ""
	Conns  int    // wrk connections, 0 for the -c flag
	Hybrid bool   // graft runs examples/hybrid (Go routes + fallback) instead of examples/wsgiserve
}

var allCases = []caseDef{
	{Name: "hello", Title: "hello (bare WSGI)", App: "bare:hello", Path: "/"},
	{Name: "flask", Title: "Flask JSON view", App: "flask_app:app", Path: "/json/42?x=1"},
	{Name: "django", Title: "Django view", App: "django_app:app", Path: "/"},
	{Name: "upload", Title: "1 MiB upload", App: "bare:files", Path: "/upload", Script: "post.lua", Conns: 16},
	{Name: "download", Title: "10 MiB download", App: "bare:files", Path: "/download", Conns: 16},
	{Name: "stream", Title: "streaming response (64 KiB in 64 pieces)", App: "bare:files", Path: "/stream"},
	{Name: "mixed", Title: "mixed: half Go routes, half Flask", App: "flask_app:app", Path: "/", Script: "mixed.lua", Hybrid: true},
}

func caseNames() []string {
	var n []string
	for _, c := range allCases {
		n = append(n, c.Name)
	}
	return n
}

// serverDef is a server under test: the command that serves app with
// workers processes on port.
type serverDef struct {
	Name   string
	GoRoot bool // the root process is Go (its CPU is the "Go" column)
	Note   string
	cmd    func(e *env, c caseDef, workers, port int) []string
}

var allServers = []serverDef{
	{Name: "graft", GoRoot: true, Note: "examples/wsgiserve (examples/hybrid for the mixed case), -workers N -threads 1, an access line per request, SCHED_BATCH and a 16 MiB heap floor (the examples' defaults; the peers log none and run under the default policy)",
		cmd: func(e *env, c caseDef, w, port int) []string {
			bin := e.wsgiserve
			if c.Hybrid {
				bin = e.hybrid
			}
			return []string{bin, "-bind", addr(port), "-workers", strconv.Itoa(w), "-threads", "1", "-python", e.python, "-chdir", e.dir, c.App}
		}},
	{Name: "gunicorn", Note: "gthread worker, -w N --threads 1, keep-alive",
		cmd: func(e *env, c caseDef, w, port int) []string {
			return []string{e.python, "-m", "gunicorn", "-k", "gthread", "--threads", "1", "-w", strconv.Itoa(w), "-b", addr(port), "--chdir", e.dir, c.App}
		}},
	{Name: "uwsgi", Note: "--http11-socket, --master --processes N, logging off",
		cmd: func(e *env, c caseDef, w, port int) []string {
			return []string{"uwsgi", "--plugin", "python3", "--http11-socket", addr(port), "--master", "--processes", strconv.Itoa(w),
				"--chdir", e.dir, "--module", c.App, "--disable-logging", "--buffer-size", "32768"}
		}},
	{Name: "tornado", Note: "WSGIContainer: always one process, one thread",
		cmd: func(e *env, c caseDef, w, port int) []string {
			return []string{e.python, filepath.Join(e.dir, "tornado_serve.py"), c.App, strconv.Itoa(port)}
		}},
	{Name: "waitress", Note: "one process, --threads N",
		cmd: func(e *env, c caseDef, w, port int) []string {
			return []string{e.python, "-m", "waitress", "--listen", addr(port), "--threads", strconv.Itoa(w), c.App}
		}},
}

func serverNames() []string {
	var n []string
	for _, s := range allServers {
		n = append(n, s.Name)
	}
	return n
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// env is what setup prepared: the built binaries and the unpacked apps.
type env struct {
	dir, python       string
	wsgiserve, hybrid string
	self              string // this program, for serve-bare
	baseline          string // -baseline-hybrid, or ""
	peersBatch        bool   // -peers-sched-batch
	tmp               string
}

func (e *env) cleanup() { os.RemoveAll(e.tmp) }

// setup builds examples/wsgiserve and examples/hybrid of the module at
// root and unpacks the apps.
func setup(root, python string) (*env, error) {
	tmp, err := os.MkdirTemp("", "graft-suite-")
	if err != nil {
		return nil, err
	}
	e := &env{tmp: tmp, dir: filepath.Join(tmp, "apps"), python: python,
		wsgiserve: filepath.Join(tmp, "wsgiserve"), hybrid: filepath.Join(tmp, "hybrid")}
	sub, _ := fs.Sub(apps, "apps")
	if err := os.CopyFS(e.dir, sub); err != nil {
		e.cleanup()
		return nil, err
	}
	for bin, pkg := range map[string]string{e.wsgiserve: "./examples/wsgiserve", e.hybrid: "./examples/hybrid"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			e.cleanup()
			return nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	if e.self, err = os.Executable(); err != nil {
		e.cleanup()
		return nil, err
	}
	return e, nil
}

// process is a running server: the leader of its own process group.
type process struct {
	cmd *exec.Cmd
	log *os.File
}

// start runs argv in a new process group with extra environment entries,
// its output going to a log file, and waits until GET path answers.
func start(e *env, name string, argv []string, extraEnv []string, port int, path string) (*process, error) {
	lf, err := os.CreateTemp(e.tmp, name+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = e.dir
	cmd.Env = append(append(os.Environ(), "PYTHONPATH="+e.dir, "PYTHONDONTWRITEBYTECODE=1"), extraEnv...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, log: lf}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + addr(port) + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(lf.Name())
			return nil, fmt.Errorf("%s did not answer on port %d within 30 s: %v\n%s", name, port, err, tail(b, 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM to the group, then SIGKILL after 3 s.
func (p *process) stop() {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // stragglers of the group
	p.log.Close()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// freePort asks the kernel for a free port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// runOne measures server s on case c with w workers.
func runOne(e *env, s serverDef, c caseDef, w int, l loadOptions) (*Run, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := s.cmd(e, c, w, port)
	if e.peersBatch && !s.GoRoot {
		// chrt execs the server: the pid measured is the server's.
		argv = append([]string{"chrt", "--batch", "0"}, argv...)
	}
	p, err := start(e, s.Name, argv, nil, port, "/")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	return measureLoad(e, p.cmd.Process.Pid, s.GoRoot, "http://"+addr(port)+c.Path, c.Script, l)
}

// measureLoad warms the server up, then runs the measured load and reads
// the CPU time and memory of the process tree of root.
func measureLoad(e *env, root int, goRoot bool, url, script string, l loadOptions) (*Run, error) {
	if script != "" {
		script = filepath.Join(e.dir, script)
	}
	if l.warmup > 0 {
		w := l
		w.secs = l.warmup
		if _, err := runWrk(url, script, w); err != nil {
			return nil, err
		}
	}
	before := treeCPU(root)
	res, err := runWrk(url, script, l)
	if err != nil {
		return nil, err
	}
	after := treeCPU(root)
	r := &Run{RPS: res.rps, P50ms: res.p50, P99ms: res.p99, Requests: res.requests, Errors: res.errors}
	if res.requests > 0 && before != nil && after != nil {
		goCPU, pyCPU := cpuSplit(root, goRoot, before, after)
		r.GoCPUus = goCPU.Seconds() * 1e6 / float64(res.requests)
		r.PyCPUus = pyCPU.Seconds() * 1e6 / float64(res.requests)
	}
	r.PeakMiB, r.GoPeakMiB = peakMemory(root, goRoot)
	return r, nil
}

// goCPUDef is one server of the Go CPU measurement.
type goCPUDef struct {
	Name, Title string
	hybrid      bool   // examples/hybrid, else the bare net/http server
	noFallback  bool   // examples/hybrid -no-fallback: the same Go routes, no fallback, no Python
	baseline    bool   // the -baseline-hybrid binary instead of this tree's examples/hybrid
	path        string // request path
	env         []string
	bareArgs    []string
}

var goCPUServers = []goCPUDef{
	{Name: "bare", Title: "bare net/http hello handler", path: "/"},
	{Name: "native", Title: "examples/hybrid, native Go route (/api/health) through the default middleware stack", hybrid: true, path: "/api/health"},
	{Name: "native-nofallback", Title: "examples/hybrid -no-fallback, the same native route with no fallback (no Python started)", hybrid: true, noFallback: true, path: "/api/health"},
	{Name: "bridged", Title: "examples/hybrid, request bridged to Python (bare WSGI hello)", hybrid: true, path: "/"},
	{Name: "bare-gomaxprocs1", Title: "bare, GOMAXPROCS=1", path: "/", env: []string{"GOMAXPROCS=1"}},
	{Name: "native-gomaxprocs1", Title: "native route, GOMAXPROCS=1", hybrid: true, path: "/api/health", env: []string{"GOMAXPROCS=1"}},
	{Name: "bridged-gomaxprocs1", Title: "bridged, GOMAXPROCS=1", hybrid: true, path: "/", env: []string{"GOMAXPROCS=1"}},
	{Name: "bare-nodelay-off", Title: "bare, TCP_NODELAY off on accepted connections", path: "/", bareArgs: []string{"-nodelay=false"}},
	{Name: "bare-busypoll", Title: "bare, SO_BUSY_POLL 50 us on accepted connections", path: "/", bareArgs: []string{"-busy-poll", "50"}},
}

// runGoCPU measures the Go process's CPU per request of g, with 2 workers
// for the hybrid servers that have a fallback.
func runGoCPU(e *env, g goCPUDef, l loadOptions) (*Run, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := append([]string{e.self, "serve-bare", "-bind", addr(port)}, g.bareArgs...)
	if g.hybrid {
		bin := e.hybrid
		if g.baseline {
			bin = e.baseline
		}
		argv = []string{bin, "-bind", addr(port), "-workers", "2", "-threads", "1", "-python", e.python, "-chdir", e.dir, "bare:hello"}
		if g.noFallback {
			argv = []string{bin, "-bind", addr(port), "-no-fallback"}
		}
	}
	p, err := start(e, g.Name, argv, g.env, port, g.path)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	return measureLoad(e, p.cmd.Process.Pid, true, "http://"+addr(port)+g.path, "", l)
}

// baselineServers are measured with -baseline-hybrid: the same native and
// bridged requests on an examples/hybrid built from another commit.
var baselineServers = []goCPUDef{
	{Name: "baseline-native", Title: "baseline binary (-baseline-hybrid), native route", hybrid: true, baseline: true, path: "/api/health"},
	{Name: "baseline-bridged", Title: "baseline binary (-baseline-hybrid), bridged request", hybrid: true, baseline: true, path: "/"},
}

// moduleRoot returns the directory of graft's go.mod, looking up from the
// working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/graft-dev/graft\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the graft repository: run the suite from its root")
		}
		dir = parent
	}
}
