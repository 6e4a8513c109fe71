package main

import (
	"encoding/xml"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const wrkOutput = `Running 5s test @ http://127.0.0.1:8000/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  40.00ms   90.00%
    Req/Sec    10.50k     1.00k   12.00k    70.00%
  Latency Distribution
     50%    2.90ms
     75%    3.50ms
     90%    4.20ms
     99%  850.00us
  104500 requests in 5.00s, 12.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  20900.00
Transfer/sec:      2.40MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 20900 || r.requests != 104500 || r.p50 != 2.9 || r.p99 != 0.85 || r.errors != 7 {
		t.Errorf("got %+v", *r)
	}
	if _, err := parseWrk("wrk: connection refused"); err == nil {
		t.Error("no error for output without results")
	}
	r, err = parseWrk(strings.Replace(wrkOutput, "99%  850.00us", "99%    1.20s", 1))
	if err != nil || r.p99 != 1200 {
		t.Errorf("p99 in seconds: %v, %v", r, err)
	}
}

func TestReadStat(t *testing.T) {
	st, ok := readStat(os.Getpid())
	if !ok {
		t.Skip("no /proc on this system") // the suite reports no CPU column there
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid %d, want %d", st.ppid, os.Getppid())
	}
	if tr := tree(os.Getpid()); tr == nil || tr[os.Getpid()].ppid != st.ppid {
		t.Errorf("tree: %v", tr)
	}
}

func TestCPUSplit(t *testing.T) {
	before := map[int]procStat{1: {cpu: 100}, 2: {ppid: 1, cpu: 50}}
	after := map[int]procStat{1: {cpu: 300}, 2: {ppid: 1, cpu: 80}, 3: {ppid: 1, cpu: 10}}
	if g, o := cpuSplit(1, true, before, after); g != 200 || o != 40 {
		t.Errorf("Go root: %v %v", g, o)
	}
	if g, o := cpuSplit(1, false, before, after); g != 0 || o != 240 {
		t.Errorf("Python root: %v %v", g, o)
	}
}

func sample() *Results {
	res := &Results{Command: "go run ./bench/suite -quick", Rounds: 2, Secs: 2}
	for round := range 2 {
		for i, s := range []string{"graft", "gunicorn", "uwsgi"} {
			res.Runs = append(res.Runs, Run{Server: s, Case: "hello", Workers: 2, Round: round,
				RPS: float64(1000 * (3 - i) * (round + 1)), P50ms: 1, P99ms: float64(i + 1), Requests: 100, GoCPUus: 10, PyCPUus: 20, PeakMiB: 50})
		}
	}
	res.Runs = append(res.Runs, Run{Server: "uwsgi", Case: "stream", Workers: 2}, Run{Server: "graft", Case: "stream", Workers: 2, Error: "boom"})
	res.GoCPU = []Run{{Server: "bare", Case: "gocpu", Workers: 2, RPS: 100, Requests: 10, GoCPUus: 20}, {Server: "native", Case: "gocpu", Workers: 2, RPS: 90, Requests: 10, GoCPUus: 30}}
	return res
}

func TestReport(t *testing.T) {
	res := sample()
	idx := index(res.Runs)
	if got := ratio(idx, "gunicorn", "hello", 2); got != 1.5 {
		t.Errorf("graft/gunicorn = %v, want 1.5", got)
	}
	if got := ratio(idx, "uwsgi", "stream", 2); !math.IsNaN(got) {
		t.Errorf("ratio without runs = %v, want NaN", got)
	}
	md := report(res)
	for _, want := range []string{beginMarker, endMarker, "| hello | 2 | 4500 | 1.50 | 3.00 |", "| 10 + 20 |", "| 1.50 |", "boom", "no complete response"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	const from = "written into this page from its `-json` file"
	if strings.Contains(md, from) {
		t.Errorf("measured results said to be read back:\n%s", md)
	}
	res.RenderedFrom = true
	if md := report(res); !strings.Contains(md, from) {
		t.Errorf("results read back (-from) not said so:\n%s", md)
	}
}

// The charts are well-formed XML.
func TestCharts(t *testing.T) {
	for name, svg := range charts(sample()) {
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
}

// writeDocs replaces the section between the markers, and only it.
func TestWriteDocs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "performance.md")
	os.WriteFile(path, []byte("# Performance\n\n"+summaryBegin+"\nold summary\n"+summaryEnd+"\n\nintro\n\n"+targetsBegin+"\nold targets\n"+targetsEnd+"\n\n"+beginMarker+"\nold\n"+endMarker+"\n\n## After\n"), 0o644)
	res := sample()
	if err := writeDocs(dir, report(res), res); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	if strings.Contains(s, "\nold") || !strings.HasPrefix(s, "# Performance\n\n"+summaryBegin) || !strings.HasSuffix(s, endMarker+"\n\n## After\n") ||
		!strings.Contains(s, summaryEnd+"\n\nintro\n\n"+targetsBegin) || !strings.Contains(s, targetsEnd+"\n\n"+beginMarker) {
		t.Errorf("got:\n%s", s)
	}
	// A page without the summary and targets markers gets neither.
	os.WriteFile(path, []byte("# Performance\n\nintro\n"), 0o644)
	if err := writeDocs(dir, report(res), res); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if s := string(b); strings.Contains(s, summaryBegin) || strings.Contains(s, targetsBegin) || !strings.HasPrefix(s, "# Performance\n\nintro\n\n"+beginMarker) {
		t.Errorf("page without the markers:\n%s", s)
	}
	for _, c := range []string{chartThroughput, chartLatency, chartCPU, chartGoCPU} {
		if _, err := os.Stat(filepath.Join(dir, c)); err != nil {
			t.Error(err)
		}
	}
}

// serve-bare answers, with the socket options of the Go CPU variants.
func TestServeBare(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	go serveBare([]string{"-bind", addr(port), "-nodelay=false", "-busy-poll", "50"})
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr(port) + "/")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if string(body) != "Hello world!\n" {
		t.Errorf("got %q", body)
	}
}

// The whole pipeline on one case and one server: build, start, wrk,
// /proc, report. It needs wrk and Python.
func TestEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Fatal("wrk not found: apt-get install -y wrk")
	}
	py := os.Getenv("GRAFT_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("python %s not found (set GRAFT_PYTHON): %v", py, err)
	}
	res, err := measure(options{rounds: 1, secs: 1, warmup: 1, workers: "1", cases: "hello", servers: "graft",
		python: py, skipGoCPU: true, threadsWrk: 1, connections: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(res.Runs))
	}
	r := res.Runs[0]
	if r.Error != "" || r.Requests == 0 || r.RPS <= 0 || r.Errors != 0 || r.P99ms <= 0 {
		t.Fatalf("run %+v", r)
	}
	if _, ok := readStat(os.Getpid()); ok && (r.GoCPUus <= 0 || r.PyCPUus <= 0 || r.PeakMiB <= 0) {
		t.Errorf("no CPU or memory measured: %+v", r)
	}
	if md := report(res); !strings.Contains(md, "| hello | 1 | ") {
		t.Errorf("report:\n%s", md)
	}
}

// The native route with and without a fallback: both rows, the per-round
// ratios and the verdict against the 10% target.
func TestReportFallbackCost(t *testing.T) {
	goRuns := func(cpuWith, rpsWith []float64) []Run {
		var rs []Run
		for round := range 3 {
			rs = append(rs,
				Run{Server: "bare", Case: "gocpu", Workers: 2, Round: round, RPS: 100, Requests: 10, GoCPUus: 20},
				Run{Server: "native", Case: "gocpu", Workers: 2, Round: round, RPS: rpsWith[round], Requests: 10, GoCPUus: cpuWith[round]},
				Run{Server: "native-nofallback", Case: "gocpu", Workers: 2, Round: round, RPS: 1000 * float64(round+1), Requests: 10, GoCPUus: 40 * float64(round+1)})
		}
		return rs
	}
	tests := []struct {
		name             string
		cpuWith, rpsWith []float64 // per round; without: 40, 80, 120 µs and 1000, 2000, 3000 req/s
		want             []string
	}{
		// Per-round ratios: CPU 1.05, 1.00, 0.90 and req/s 0.95, 1.00, 1.10; medians 1.00.
		{"within", []float64{42, 80, 108}, []float64{950, 2000, 3300},
			[]string{"| with the fallback (idle) | 2000 | 80.0 |", "| with no fallback (`-no-fallback`) | 2000 | 80.0 |", "| with ÷ without | 1.00 | 1.00 |", "**Both within 10%**: with the idle fallback, Go CPU per request +0.0% (within), req/s +0.0% (within)."}},
		// CPU +12.5% in the median round: over the target.
		{"cpu over", []float64{45, 90, 135}, []float64{1000, 2000, 3000},
			[]string{"| with ÷ without | 1.00 | 1.12 |", "**Not both within 10%**: with the idle fallback, Go CPU per request +12.5% (not within), req/s +0.0% (within)."}},
		// req/s -15%: over the target although the CPU is the same.
		{"rps under", []float64{40, 80, 120}, []float64{850, 1700, 2550},
			[]string{"| with ÷ without | 0.85 | 1.00 |", "**Not both within 10%**: with the idle fallback, Go CPU per request +0.0% (within), req/s -15.0% (not within)."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := report(&Results{Rounds: 3, Secs: 3, GoCPU: goRuns(tc.cpuWith, tc.rpsWith)})
			for _, want := range append(tc.want, "#### The native route with and without a fallback", "| examples/hybrid -no-fallback, the same native route with no fallback (no Python started) |") {
				if !strings.Contains(md, want) {
					t.Errorf("report lacks %q:\n%s", want, md)
				}
			}
		})
	}
	// Without the -no-fallback row (an older -json file), no comparison.
	if md := report(sample()); strings.Contains(md, "with and without a fallback") {
		t.Errorf("comparison without its rows:\n%s", md)
	}
}

// Each round of the Go CPU measurement starts with another server, and
// runs native-nofallback right before native in even rounds and right
// after it in odd ones.
func TestRotateGo(t *testing.T) {
	names := func(s []goCPUDef) []string {
		var n []string
		for _, g := range s {
			n = append(n, g.Name)
		}
		return n
	}
	first := map[string]bool{}
	for round := range len(goCPUServers) {
		got := names(rotateGo(goCPUServers, round))
		if len(got) != len(goCPUServers) {
			t.Fatalf("round %d: %v", round, got)
		}
		first[got[0]] = true
		i, j := slices.Index(got, "native"), slices.Index(got, "native-nofallback")
		if want := i - 1; round%2 == 1 {
			want = i + 1
			if j != want {
				t.Errorf("round %d: native-nofallback at %d, want %d (after native): %v", round, j, want, got)
			}
		} else if j != want {
			t.Errorf("round %d: native-nofallback at %d, want %d (before native): %v", round, j, want, got)
		}
		for _, g := range goCPUServers {
			if !slices.Contains(got, g.Name) {
				t.Errorf("round %d lacks %s: %v", round, g.Name, got)
			}
		}
	}
	if len(first) < len(goCPUServers)-1 {
		t.Errorf("only %d servers ever run first: %v", len(first), first)
	}
	// Without native, the order is rotate's.
	bare := []goCPUDef{{Name: "bare"}, {Name: "native-nofallback"}, {Name: "bridged"}}
	if got := names(rotateGo(bare, 1)); !slices.Equal(got, []string{"native-nofallback", "bridged", "bare"}) {
		t.Errorf("without native: %v", got)
	}
}

// judge says met, or by how much a ratio misses its bound, as a share of
// the bound.
func TestJudge(t *testing.T) {
	tests := []struct {
		v, bound float64
		least    bool
		want     string
	}{
		{2.62, 2, false, "missed by 31%"},
		{2, 2, false, "met"},
		{1.42, 1.5, false, "met"},
		{2.48, 3, true, "missed by 17%"},
		{3.15, 2.5, true, "met"},
		{0.6, 0.6, true, "met"},
		{math.NaN(), 2, false, "not measured"},
	}
	for _, tc := range tests {
		if got := judge(tc.v, tc.bound, tc.least); got != tc.want {
			t.Errorf("judge(%v, %v, %v) = %q, want %q", tc.v, tc.bound, tc.least, got, tc.want)
		}
	}
}

// targetRuns is a run with every target's inputs: per round, graft's
// req/s over gunicorn's 2.5 on hello, 2 on Flask, 1.5 on Django; p99
// higher than gunicorn's only on the download with 1 worker; Go CPU 24
// µs bare, 36 native (1.5×), 60 bridged (2.5×).
func targetRuns() *Results {
	res := &Results{Rounds: 3, Secs: 3, Started: "S", Finished: "F", Machine: Machine{CPU: "cpu", Cores: "2", LoadStart: "0.50", LoadEnd: "0.60"}}
	rps := map[string]map[string]float64{
		"graft":    {"hello": 10000, "flask": 4000, "django": 3000, "download": 100},
		"gunicorn": {"hello": 4000, "flask": 2000, "django": 2000, "download": 200},
		"uwsgi":    {"hello": 20000, "flask": 4000, "django": 4000, "download": 200},
		"tornado":  {"hello": 3000, "flask": 1000, "django": 1000, "download": 100},
	}
	for round := range 3 {
		for s, byCase := range rps {
			for c, v := range byCase {
				for _, w := range []int{1, 2} {
					p99 := 5.0
					if s == "graft" && c == "download" && w == 1 {
						p99 = 9
					}
					res.Runs = append(res.Runs, Run{Server: s, Case: c, Workers: w, Round: round, RPS: v, P50ms: 1, P99ms: p99, Requests: 100})
				}
			}
		}
		for s, cpu := range map[string]float64{"bare": 24, "native": 36, "native-nofallback": 35, "bridged": 60} {
			res.GoCPU = append(res.GoCPU, Run{Server: s, Case: "gocpu", Workers: 2, Round: round, RPS: 1000, Requests: 10, GoCPUus: cpu})
		}
	}
	return res
}

// The targets table judges each of issue 11's targets on the run; the
// summary quotes the largest worker count.
func TestTargetsAndSummary(t *testing.T) {
	res := targetRuns()
	got := targetsTable(res)
	for _, want := range []string{
		targetsBegin, targetsEnd,
		"| native route through the default stack ÷ bare handler, Go CPU per request | ≤ 1.5× | 1.50× | met |",
		"| bridged request ÷ bare handler, Go CPU per request | ≤ 2× | 2.50× | missed by 25% |",
		"| hello, req/s ÷ gunicorn's | ≥ 3× | 2.50× | missed by 17% |",
		"| hello, req/s ÷ Tornado's | ≥ 2.5× | 3.33× | met |",
		"| hello, req/s ÷ uWSGI's | ≥ 0.6× | 0.50× | missed by 17% |",
		"| Flask, req/s ÷ gunicorn's | ≥ 2× | 2.00× | met |",
		"| Flask, req/s ÷ uWSGI's | ≥ 0.8× | 1.00× | met |",
		"| Django, req/s ÷ gunicorn's | ≥ 1.8× | 1.50× | missed by 17% |",
		"| native route with an idle fallback ÷ with none | within 10% | Go CPU 1.03×, req/s 1.00× | met |",
		"| p99 ÷ gunicorn's, every case and worker count | ≤ 1× | higher in 1 of 8: download with 1 worker, 9.0 against 5.0 ms | missed |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lack %q:\n%s", want, got)
		}
	}
	// A run without the Go CPU part or the peers judges nothing it lacks.
	empty := targetsTable(&Results{})
	if strings.Count(empty, "not measured") != len(targets)+2 || strings.Contains(empty, "| met |") {
		t.Errorf("empty run:\n%s", empty)
	}

	got = summary(res)
	for _, want := range []string{
		summaryBegin, summaryEnd, "2 workers × 1 thread",
		"| hello (bare WSGI) | 10000 | 2.50 | 0.50 | 3.33 | 5.00 / 5.00 |",
		"| 10 MiB download | 100 | 0.50 | 0.50 | 1.00 | 5.00 / 5.00 |",
		"a bare `net/http` handler's (24.0 µs): a native route through the default middleware stack 1.50×, a request bridged to Python 2.50×",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if got := summary(&Results{}); !strings.Contains(got, "measured no case") {
		t.Errorf("summary of an empty run:\n%s", got)
	}
}
