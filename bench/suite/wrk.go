package main

import (
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// loadOptions is the wrk load of one run.
type loadOptions struct {
	threads, conns int
	secs, warmup   float64
}

// wrkResult is what wrk reported.
type wrkResult struct {
	rps, p50, p99 float64 // req/s, ms, ms
	requests      int64
	errors        int64 // non-2xx/3xx responses and socket errors
}

// runWrk runs wrk against url (with the Lua script, if any).
func runWrk(url, script string, l loadOptions) (*wrkResult, error) {
	args := []string{"-t" + strconv.Itoa(l.threads), "-c" + strconv.Itoa(l.conns),
		"-d" + strconv.Itoa(int(math.Max(1, math.Ceil(l.secs)))) + "s", "--timeout", "10s", "--latency"}
	if script != "" {
		args = append(args, "-s", script)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	return parseWrk(string(out))
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reRequests = regexp.MustCompile(`(\d+) requests in`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	rePct      = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// parseWrk reads wrk's --latency output.
func parseWrk(out string) (*wrkResult, error) {
	var r wrkResult
	m := reRPS.FindStringSubmatch(out)
	n := reRequests.FindStringSubmatch(out)
	if m == nil || n == nil {
		return nil, fmt.Errorf("unexpected wrk output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	r.requests, _ = strconv.ParseInt(n[1], 10, 64)
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		r.errors += v
	}
	if m := reSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			v, _ := strconv.ParseInt(s, 10, 64)
			r.errors += v
		}
	}
	for _, m := range rePct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	return &r, nil
}

// wrkVersion returns wrk's version line.
func wrkVersion() string {
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}
