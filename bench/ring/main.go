package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/graft-dev/graft/bench/internal/sysinfo"
)

// options are the command-line flags.
type options struct {
	python     string
	rounds     int
	secs       float64
	conc       []int
	work       []int
	transports []string
	reqSize    int
	respSize   int
	spin       time.Duration
	window     int
}

func main() {
	log.SetFlags(0)
	var o options
	py := os.Getenv("GRAFT_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	var conc, work, transports string
	flag.StringVar(&o.python, "python", py, "the Python interpreter (default $GRAFT_PYTHON, else /usr/bin/python3)")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds; every cell runs once per round, transports alternating")
	flag.Float64Var(&o.secs, "secs", 1, "seconds per cell")
	flag.StringVar(&conc, "conc", "1,8,64", "concurrent Go requesters (handoff); direct runs with 1")
	flag.StringVar(&work, "work", "0,30", "µs of CPU the peer burns per message (0-255)")
	flag.StringVar(&transports, "transports", "sock,ring,ringspin,ringefd", "transports to compare")
	flag.IntVar(&o.reqSize, "req", 200, "request payload bytes")
	flag.IntVar(&o.respSize, "resp", 100, "answer payload bytes")
	flag.DurationVar(&o.spin, "spin", 50*time.Microsecond, "ringspin: how long each side polls before sleeping")
	flag.IntVar(&o.window, "window", 64, "calls in flight per peer at most (handoff)")
	flag.Parse()
	var err error
	if o.conc, err = ints(conc); err != nil {
		log.Fatal(err)
	}
	if o.work, err = ints(work); err != nil {
		log.Fatal(err)
	}
	o.transports = strings.Split(transports, ",")
	if err := run(o, os.Stdout, os.Stderr); err != nil {
		log.Fatal(err)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("ring bench: %q is not a list of integers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// mode is a client variant: direct (one caller at a time, no hand-off)
// or handoff at a concurrency.
type mode struct {
	direct bool
	conc   int
}

func (m mode) String() string {
	if m.direct {
		return "direct, 1 requester"
	}
	return fmt.Sprintf("handoff, %d requesters", m.conc)
}

// cellKey names a cell across rounds.
type cellKey struct {
	work      int
	mode      mode
	transport string
}

// run starts one peer per transport and client kind, runs the rounds and
// prints the medians as Markdown tables to out, progress to logw.
func run(o options, out, logw io.Writer) error {
	fmt.Fprintf(out, "machine: %d CPUs, GOMAXPROCS %d, %s/%s, %s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), pythonVersion(o.python))
	fmt.Fprintf(out, "load average at start: %s\n", sysinfo.LoadAverage())
	fmt.Fprintf(out, "request %d B, answer %d B, %d rounds of %gs per cell, spin %v, window %d\n\n", o.reqSize, o.respSize, o.rounds, o.secs, o.spin, o.window)
	modes := []mode{{direct: true, conc: 1}}
	for _, c := range o.conc {
		modes = append(modes, mode{conc: c})
	}
	peers := map[string]*peer{} // by transport + direct
	defer func() {
		for _, p := range peers {
			p.stop()
		}
	}()
	for _, tr := range o.transports {
		for _, direct := range []bool{true, false} {
			p, err := startPeer(tr, dialOptions{python: o.python, direct: direct, window: o.window, spin: o.spin, stderr: logw})
			if err != nil {
				return err
			}
			peers[p.name()] = p
		}
	}
	var x exchanger
	get := func(tr string, m mode) *peer {
		if m.direct {
			return peers[tr+" direct"]
		}
		return peers[tr+" handoff"]
	}
	// Warm up every peer (imports, page faults, the first GC cycles).
	for _, p := range peers {
		if _, err := x.run(p, load{conc: 1, reqSize: o.reqSize, respSize: o.respSize, dur: 200 * time.Millisecond}); err != nil {
			return fmt.Errorf("%s: %w", p.name(), err)
		}
	}
	results := map[cellKey][]result{}
	dur := time.Duration(o.secs * float64(time.Second))
	for round := range o.rounds {
		for _, w := range o.work {
			for _, m := range modes {
				for i := range o.transports {
					tr := o.transports[(i+round)%len(o.transports)] // rotate who goes first
					p := get(tr, m)
					r, err := x.run(p, load{conc: m.conc, workUS: w, reqSize: o.reqSize, respSize: o.respSize, dur: dur})
					if err != nil {
						return fmt.Errorf("%s, %v, work %d µs: %w", p.name(), m, w, err)
					}
					k := cellKey{w, m, tr}
					results[k] = append(results[k], r)
					fmt.Fprintf(logw, "round %d work %3d µs %-22s %-9s %8.0f/s p50 %7.1f p99 %8.1f µs  Go %6.1f Py %6.1f µs CPU/msg\n",
						round+1, w, m, tr, r.rate, r.p50, r.p99, r.goCPU, r.pyCPU)
				}
			}
		}
	}
	for _, w := range o.work {
		fmt.Fprintf(out, "#### peer work %d µs per message: medians of %d rounds\n\n", w, o.rounds)
		fmt.Fprintln(out, "| requesters | transport | round trips/s | p50 µs | p99 µs | Go CPU µs/msg | Python CPU µs/msg | Go+Python |")
		fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|")
		for _, m := range modes {
			for _, tr := range o.transports {
				rs := results[cellKey{w, m, tr}]
				g, p := median(rs, func(r result) float64 { return r.goCPU }), median(rs, func(r result) float64 { return r.pyCPU })
				fmt.Fprintf(out, "| %v | %s | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", m, tr,
					median(rs, func(r result) float64 { return r.rate }),
					median(rs, func(r result) float64 { return r.p50 }),
					median(rs, func(r result) float64 { return r.p99 }),
					g, p, median(rs, func(r result) float64 { return r.goCPU + r.pyCPU }))
			}
		}
		fmt.Fprintln(out)
	}
	if len(o.transports) > 1 {
		base := o.transports[0]
		fmt.Fprintf(out, "#### against %s: medians of the per-round ratios\n\n", base)
		fmt.Fprintln(out, "| peer work µs | requesters | transport | round trips/s | p50 | Go CPU/msg | Python CPU/msg |")
		fmt.Fprintln(out, "|---|---|---|---|---|---|---|")
		for _, w := range o.work {
			for _, m := range modes {
				for _, tr := range o.transports[1:] {
					ratio := func(f func(result) float64) float64 {
						var v []result
						for i, r := range results[cellKey{w, m, tr}] {
							v = append(v, result{rate: f(r) / f(results[cellKey{w, m, base}][i])})
						}
						return median(v, func(r result) float64 { return r.rate })
					}
					fmt.Fprintf(out, "| %d | %v | %s | %.2f | %.2f | %.2f | %.2f |\n", w, m, tr,
						ratio(func(r result) float64 { return r.rate }),
						ratio(func(r result) float64 { return r.p50 }),
						ratio(func(r result) float64 { return r.goCPU }),
						ratio(func(r result) float64 { return r.pyCPU }))
				}
			}
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "load average at end: %s\n", sysinfo.LoadAverage())
	return nil
}

// median is the median of f over rs.
func median(rs []result, f func(result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// pythonVersion is the interpreter's version line.
func pythonVersion(py string) string {
	b, err := exec.Command(py, "--version").CombinedOutput()
	if err != nil {
		return py + ": " + err.Error()
	}
	return py + " " + strings.TrimSpace(string(b))
}
