package main

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"
)

// load is one measured cell: conc goroutines each sending pings of
// reqSize bytes and asking for respSize, the peer working workUS µs per
// ping, for dur.
type load struct {
	conc     int
	workUS   int
	reqSize  int
	respSize int
	dur      time.Duration
}

// result is what one cell measured.
type result struct {
	msgs  int
	rate  float64 // round trips per second
	p50   float64 // µs
	p99   float64 // µs
	goCPU float64 // µs of this process's CPU per round trip
	pyCPU float64 // µs of the peer's CPU per round trip
}

// exchanger runs loads, reusing its latency buffers across cells.
type exchanger struct {
	lat [][]time.Duration
}

// run measures ld against p. Every answer is checked.
func (x *exchanger) run(p *peer, ld load) (result, error) {
	if ld.reqSize < 4 || ld.reqSize > maxPayload || ld.respSize > ld.reqSize || ld.workUS < 0 || ld.workUS > 255 {
		return result{}, fmt.Errorf("ring bench: bad load %+v (4 <= request <= %d, answer <= request, work <= 255 µs)", ld, maxPayload)
	}
	for len(x.lat) < ld.conc {
		x.lat = append(x.lat, make([]time.Duration, 0, 1<<16))
	}
	py0, err := p.cpu()
	if err != nil {
		return result{}, err
	}
	go0 := selfCPU()
	start := time.Now()
	deadline := start.Add(ld.dur)
	errs := make([]error, ld.conc)
	var wg sync.WaitGroup
	for g := range ld.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, ld.reqSize)
			out := make([]byte, maxPayload)
			lat := x.lat[g][:0]
			for i := 0; ; i++ {
				fillPing(req, ld.respSize, uint64(g)<<40|uint64(i))
				t0 := time.Now()
				n, err := p.cl.call(opPing, byte(ld.workUS), req, out)
				t1 := time.Now()
				if err == nil {
					err = checkPong(req, out[:n])
				}
				if err != nil {
					errs[g] = err
					break
				}
				lat = append(lat, t1.Sub(t0))
				if t1.After(deadline) {
					break
				}
			}
			x.lat[g] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	goUsed := selfCPU() - go0
	py1, err := p.cpu()
	for _, e := range errs {
		if e != nil {
			return result{}, e
		}
	}
	if err != nil {
		return result{}, err
	}
	var all []time.Duration
	for g := range ld.conc {
		all = append(all, x.lat[g]...)
	}
	slices.Sort(all)
	n := len(all)
	r := result{
		msgs:  n,
		rate:  float64(n) / elapsed.Seconds(),
		p50:   us(all[n/2]),
		p99:   us(all[min(n-1, n*99/100)]),
		goCPU: us(goUsed) / float64(n),
		pyCPU: us(py1-py0) / float64(n),
	}
	return r, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// selfCPU is this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
