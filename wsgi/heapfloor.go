package wsgi

import (
	"errors"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
)

// DefaultMinHeap is the heap floor the examples' -min-heap flag asks for
// (16 MiB): see [StartHeapFloor].
const DefaultMinHeap = 16 << 20

// goHeapMinimum is the Go runtime's heap minimum at GOGC=100 (4 MiB): the
// heap goal is never below it, and it scales with GOGC.
const goHeapMinimum = 4 << 20

// StartHeapFloor keeps the garbage collector from starting a cycle
// before the Go heap has grown to floor bytes, until stop is called, by
// raising GOGC while the live heap is small; it returns at once.
//
// Why: a server in front of Python workers keeps a small live heap (its
// buffers; about 2 MiB in examples/hybrid) and allocates a few KiB per
// request, so with Go's default goal (twice the live heap, at least 4 MiB)
// it collects about 60 times a second under load, each cycle scanning
// every goroutine's stack. With a floor the heap may grow to the floor
// before a cycle starts: the resident memory grows by about the floor, the
// collections become rare (16 MiB took a seventh off the Go CPU of a
// native route: docs/performance.md, "The tenth pass").
//
// The floor applies only while the live heap is small: after each
// collection the GOGC it sets is the smallest that puts the next goal at
// the floor, and never below the GOGC environment variable's (100 when
// unset), so a live heap past half the floor or so is collected as it
// would be without one. GOGC=off leaves the collector alone (stop does
// nothing), and GOMEMLIMIT still bounds the heap. GOGC is the process's:
// run one floor at a time (with two, the one that last changed GOGC wins
// until the other's goal changes), and know that a call of
// debug.SetGCPercent while a floor runs may be overridden at a later
// collection. stop restores the environment's GOGC.
//
// floor must not be negative; 0 does nothing. [Serve] starts one for
// [ServeConfig.MinHeap].
func StartHeapFloor(floor int64) (stop func(), err error) {
	if floor < 0 {
		return nil, errors.New("wsgi: heap floor: must not be negative")
	}
	base := envGCPercent()
	if floor == 0 || base < 0 {
		return func() {}, nil
	}
	f := &heapFloor{floor: min(floor, 1<<50), base: base, set: base, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	f.adjust()
	return f.stop, nil
}

// heapFloor is a running [StartHeapFloor]: it re-arms itself after each
// collection with a cleanup on a new sentinel object.
type heapFloor struct {
	floor   int64
	base    int // the environment's GOGC
	mu      sync.Mutex
	stopped bool
	set     int // the GOGC this floor set last (base before)
	samples []metrics.Sample
}

// gcSentinel is a heap object whose only use is to be collected: its
// cleanup runs once per collection. It holds a pointer so that the
// allocator does not pack it with other tiny objects (which would keep it
// alive past the cycle).
type gcSentinel struct{ _ *byte }

// adjust sets GOGC for the live heap the last collection found, and arms
// the cleanup that calls it again after the next one.
func (f *heapFloor) adjust() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	metrics.Read(f.samples)
	live := int64(f.samples[0].Value.Uint64())
	roots := int64(f.samples[1].Value.Uint64() + f.samples[2].Value.Uint64())
	if p := gcPercentFor(f.floor, live, roots, f.base); p != f.set {
		debug.SetGCPercent(p)
		f.set = p
	}
	runtime.AddCleanup(new(gcSentinel), func(f *heapFloor) { f.adjust() }, f)
}

// stop ends the floor and restores the environment's GOGC. The pending
// cleanup finds the floor stopped and does nothing.
func (f *heapFloor) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	if f.set != f.base {
		debug.SetGCPercent(f.base)
	}
}

// gcPercentFor returns the GOGC that puts the heap goal at floor, given the
// live heap and the roots the collector scans (stacks and globals), and
// never below base. Go's goal is the larger of the heap minimum (4 MiB x
// GOGC/100) and live + (live + roots) x GOGC/100, so the smaller of the
// two percents that reach the floor is enough.
func gcPercentFor(floor, live, roots int64, base int) int {
	live = max(live, 0)
	var p int64 // 0: the live heap alone reaches the floor
	if live < floor {
		p = min(
			ceilDiv(floor*100, goHeapMinimum),             // the heap minimum reaches the floor
			ceilDiv((floor-live)*100, max(live+roots, 1)), // the live term does
			math.MaxInt32)
	}
	return max(int(p), base)
}

// ceilDiv returns a/b rounded up, for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// envGCPercent reads GOGC as the runtime does: "off" is -1, a number is
// itself, anything else (or nothing) is 100.
func envGCPercent() int {
	s := os.Getenv("GOGC")
	if s == "off" {
		return -1
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int(n)
	}
	return 100
}
