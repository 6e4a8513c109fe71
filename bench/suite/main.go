// Command suite is graft's benchmark suite: it runs graft and the WSGI
// servers people compare it with (gunicorn's gthread worker, uWSGI with
// its HTTP/1.1 socket, Tornado's WSGIContainer, waitress) side by side on
// the same apps under the same wrk load, alternating the servers round by
// round, and measures per case the requests per second, p50 and p99
// latency, the CPU time per request split into the Go process and the
// Python processes (utime+stime of the process tree from /proc), and the
// peak memory (the sum of VmHWM over the tree). It also measures the Go
// process's own CPU per request for a bare net/http handler, a native
// route of examples/hybrid through the default middleware stack (with its
// fallback configured and idle, and with -no-fallback, side by side in
// each round) and a request bridged to Python, under the same load.
//
// From the repository root:
//
//	go run ./bench/suite -quick          # a few seconds per case, to try it
//	go run ./bench/suite                 # 3 rounds of 5 s: the published numbers
//
// It rewrites the measured section of docs/performance.md (between the
// "bench/suite" markers) and the charts docs/perf-*.svg, and saves the raw
// results as JSON (-json); -from FILE regenerates the docs from such a
// file without measuring. It needs Linux for the CPU and memory columns
// (/proc), wrk, uWSGI with its python3 plugin, and gunicorn, tornado,
// waitress, Flask and Django for -python (Debian: apt-get install -y wrk
// uwsgi uwsgi-plugin-python3 gunicorn python3-tornado python3-waitress
// python3-flask python3-django).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/graft-dev/graft/bench/internal/sysinfo"
)

// options are the command-line flags.
type options struct {
	quick       bool
	rounds      int
	secs        float64
	warmup      float64
	workers     string
	cases       string
	servers     string
	python      string
	docs        string
	jsonOut     string
	from        string
	noDocs      bool
	skipGoCPU   bool
	threadsWrk  int
	connections int
	baseline    string
	peersBatch  bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve-bare" {
		serveBare(os.Args[2:])
		return
	}
	var o options
	flag.BoolVar(&o.quick, "quick", false, "quick mode: 1 round of 2 s per run (overrides -rounds and -secs)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every server once per case, in alternating order")
	flag.Float64Var(&o.secs, "secs", 5, "seconds of measured load per run (whole seconds: wrk's unit)")
	flag.Float64Var(&o.warmup, "warmup", 1, "seconds of unmeasured load before each run")
	flag.StringVar(&o.workers, "workers", "1,2", "worker counts to run, comma-separated")
	flag.StringVar(&o.cases, "cases", "", "cases to run, comma-separated (default: all; none: only the Go CPU measurement): "+strings.Join(caseNames(), ","))
	flag.StringVar(&o.servers, "servers", "", "servers to run, comma-separated (default: all): "+strings.Join(serverNames(), ","))
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "Python interpreter with Flask, Django, gunicorn, tornado and waitress")
	flag.StringVar(&o.docs, "docs", "docs", "directory of performance.md and the charts")
	flag.StringVar(&o.jsonOut, "json", "", "also write the raw results to this file")
	flag.StringVar(&o.from, "from", "", "do not measure: regenerate the docs from this -json file")
	flag.BoolVar(&o.noDocs, "no-docs", false, "print the report instead of writing the docs")
	flag.BoolVar(&o.skipGoCPU, "skip-gocpu", false, "skip the Go CPU per request measurement")
	flag.IntVar(&o.threadsWrk, "wrk-threads", 2, "wrk threads (-t)")
	flag.IntVar(&o.connections, "c", 64, "wrk connections (-c) for the small-request cases")
	flag.BoolVar(&o.peersBatch, "peers-sched-batch", false, "run the peers under SCHED_BATCH too (chrt -b 0), the policy graft's examples choose (-sched-batch)")
	flag.StringVar(&o.baseline, "baseline-hybrid", "", "also measure the Go CPU of this examples/hybrid binary (built from another commit), as the baseline-native and baseline-bridged rows")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("suite: ")

	var res *Results
	if o.from != "" {
		b, err := os.ReadFile(o.from)
		if err != nil {
			log.Fatal(err)
		}
		res = new(Results)
		if err := json.Unmarshal(b, res); err != nil {
			log.Fatalf("%s: %v", o.from, err)
		}
		res.RenderedFrom = true
	} else {
		if o.quick {
			o.rounds, o.secs, o.warmup = 1, 2, 1
		}
		var err error
		res, err = measure(o)
		if err != nil {
			log.Fatal(err)
		}
		if o.jsonOut != "" {
			b, _ := json.MarshalIndent(res, "", "  ")
			if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
				log.Fatal(err)
			}
		}
	}
	md := report(res)
	if o.noDocs {
		fmt.Print(summary(res), "\n", targetsTable(res), "\n", md)
		return
	}
	if err := writeDocs(o.docs, md, res); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s and its charts", filepath.Join(o.docs, "performance.md"))
}

// measure runs everything o asks for.
func measure(o options) (*Results, error) {
	workers, err := parseInts(o.workers)
	if err != nil {
		return nil, err
	}
	var cases []caseDef
	if o.cases != "none" {
		if cases, err = pick(o.cases, allCases, func(c caseDef) string { return c.Name }); err != nil {
			return nil, err
		}
	}
	servers, err := pick(o.servers, allServers, func(s serverDef) string { return s.Name })
	if err != nil {
		return nil, err
	}
	if err := checkTools(o.python, cases, servers); err != nil {
		return nil, err
	}
	if o.peersBatch {
		if _, err := exec.LookPath("chrt"); err != nil {
			return nil, errors.New("-peers-sched-batch: chrt not found: apt-get install -y util-linux")
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	env, err := setup(root, o.python)
	if err != nil {
		return nil, err
	}
	defer env.cleanup()
	env.peersBatch = o.peersBatch
	goServers := goCPUServers
	if o.baseline != "" {
		if env.baseline, err = filepath.Abs(o.baseline); err != nil {
			return nil, err
		}
		goServers = append(append([]goCPUDef{}, goCPUServers...), baselineServers...)
	}
	res := &Results{
		Machine: machine(o.python), Command: commandLine(), PeersBatch: o.peersBatch,
		Rounds: o.rounds, Secs: o.secs, Started: time.Now().UTC().Format(time.RFC3339),
	}
	load := loadOptions{threads: o.threadsWrk, secs: o.secs, warmup: o.warmup}
	for round := 0; round < o.rounds; round++ {
		for _, c := range cases {
			for _, w := range workers {
				order := rotate(servers, round)
				for _, s := range order {
					l := load
					l.conns = o.connections
					if c.Conns > 0 {
						l.conns = c.Conns
					}
					log.Printf("round %d/%d: %s, %d workers, %s", round+1, o.rounds, c.Name, w, s.Name)
					r, err := runOne(env, s, c, w, l)
					if err != nil {
						log.Printf("  %s failed: %v", s.Name, err)
						r = &Run{Error: err.Error()}
					}
					r.Server, r.Case, r.Workers, r.Round = s.Name, c.Name, w, round
					log.Printf("  %.0f req/s, p50 %.2f ms, p99 %.2f ms, CPU/req %.1f us Go + %.1f us Python, peak %.0f MiB",
						r.RPS, r.P50ms, r.P99ms, r.GoCPUus, r.PyCPUus, r.PeakMiB)
					res.Runs = append(res.Runs, *r)
				}
			}
		}
		if !o.skipGoCPU {
			l := load
			l.conns = o.connections
			for _, g := range rotateGo(goServers, round) {
				log.Printf("round %d/%d: Go CPU, %s", round+1, o.rounds, g.Name)
				r, err := runGoCPU(env, g, l)
				if err != nil {
					log.Printf("  failed: %v", err)
					r = &Run{Error: err.Error()}
				}
				r.Server, r.Case, r.Workers, r.Round = g.Name, "gocpu", 2, round
				log.Printf("  %.0f req/s, Go CPU %.1f us/req", r.RPS, r.GoCPUus)
				res.GoCPU = append(res.GoCPU, *r)
			}
		}
	}
	res.Finished = time.Now().UTC().Format(time.RFC3339)
	res.Machine.LoadEnd = sysinfo.LoadAverage()
	return res, nil
}

// rotate returns s starting at element round (mod len), so that no server
// always runs first or last.
func rotate[T any](s []T, round int) []T {
	if len(s) == 0 {
		return s
	}
	k := round % len(s)
	return append(append([]T{}, s[k:]...), s[:k]...)
}

// rotateGo is rotate for the Go CPU measurement, with native-nofallback
// moved next to native, before it in even rounds and after it in odd
// ones: their ratio is the comparison asked for, and the load of a shared
// machine drifts less over two adjacent runs than over a whole round.
func rotateGo(s []goCPUDef, round int) []goCPUDef {
	out := rotate(s, round)
	j := slices.IndexFunc(out, func(g goCPUDef) bool { return g.Name == "native-nofallback" })
	if j < 0 {
		return out
	}
	nf := out[j]
	out = slices.Delete(out, j, j+1)
	i := slices.IndexFunc(out, func(g goCPUDef) bool { return g.Name == "native" })
	if i < 0 {
		return slices.Insert(out, j, nf)
	}
	if round%2 == 1 {
		i++
	}
	return slices.Insert(out, i, nf)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
			return nil, fmt.Errorf("bad worker count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// pick returns the elements of all named in the comma-separated list
// (all of them for "").
func pick[T any](list string, all []T, name func(T) string) ([]T, error) {
	if list == "" {
		return all, nil
	}
	var out []T
	for _, n := range strings.Split(list, ",") {
		found := false
		for _, x := range all {
			if name(x) == strings.TrimSpace(n) {
				out = append(out, x)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown name %q", n)
		}
	}
	return out, nil
}

func commandLine() string {
	args := []string{"go run ./bench/suite"}
	for _, a := range os.Args[1:] {
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

// checkTools reports the first missing program or Python package that
// the cases and servers need, with how to install it.
func checkTools(python string, cases []caseDef, servers []serverDef) error {
	need := map[string]bool{"wrk": true, "go": true}
	mods := []string{}
	for _, s := range servers {
		switch s.Name {
		case "uwsgi":
			need["uwsgi"] = true
		case "gunicorn", "tornado", "waitress":
			mods = append(mods, s.Name)
		}
	}
	for _, c := range cases {
		switch c.Name {
		case "flask", "mixed":
			mods = append(mods, "flask")
		case "django":
			mods = append(mods, "django")
		}
	}
	for tool := range need {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: apt-get install -y wrk uwsgi uwsgi-plugin-python3 (and Go to build the servers)", tool)
		}
	}
	if len(mods) > 0 {
		if out, err := exec.Command(python, "-c", "import "+strings.Join(mods, ", ")).CombinedOutput(); err != nil {
			return fmt.Errorf("%s lacks a package (apt-get install -y python3-flask python3-django gunicorn python3-tornado python3-waitress): %s", python, out)
		}
	} else if _, err := exec.LookPath(python); err != nil {
		return fmt.Errorf("python %s not found: %v", python, err)
	}
	return nil
}
