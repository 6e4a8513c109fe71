package wsgi

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/graft-dev/graft/internal/pythontest"
)

// Config.BatchScheduling moves the Go process's threads, the threads it
// starts afterwards and the workers with their threads to SCHED_BATCH,
// and leaves a thread under another policy alone; without it nothing
// moves. The policy is the whole process's, so each case runs in a child
// test process (TestBatchSchedulingChild).
func TestBatchScheduling(t *testing.T) {
	python := pythontest.Python(t)
	for _, tc := range []struct {
		name string
		env  string // GRAFT_SCHED_CHILD: batch|none, preload|fresh
	}{
		{"batch, preloaded workers", "batch,preload"},
		{"batch, fresh workers", "batch,fresh"},
		{"no batch", "none,preload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBatchSchedulingChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "GRAFT_SCHED_CHILD="+tc.env, "GRAFT_PYTHON="+python)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestBatchSchedulingChild") {
				t.Fatalf("child: %v\n%s", err, out)
			}
		})
	}
}

// TestBatchSchedulingChild is TestBatchScheduling's child process.
func TestBatchSchedulingChild(t *testing.T) {
	mode := os.Getenv("GRAFT_SCHED_CHILD")
	if mode == "" {
		return
	}
	batch := strings.HasPrefix(mode, "batch")
	before, err := schedPolicy(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := before // without BatchScheduling nothing moves
	if batch && before == schedOther {
		want = schedBatch
	}

	// A thread under SCHED_IDLE before New, which must keep it.
	idle := make(chan int)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var param int32
		if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedIdle, uintptr(unsafe.Pointer(&param))); errno != 0 {
			t.Errorf("SCHED_IDLE: %v", errno)
		}
		idle <- syscall.Gettid()
		<-release
	}()
	idleTID := <-idle

	c, err := New(Config{App: "apps:hello", Dir: testdataDir(t), Python: pythontest.Python(t), Workers: 2, Threads: 2,
		NoPreload: strings.HasSuffix(mode, "fresh"), BatchScheduling: batch, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(t.Context())
	if got := c.Config().BatchScheduling; got != batch {
		t.Errorf("Config().BatchScheduling = %v, want %v", got, batch)
	}

	// Threads the runtime starts after New: goroutines locked to threads
	// of their own, all alive at once.
	hold := make(chan struct{})
	tids := make(chan int, 4)
	for range 4 {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- syscall.Gettid()
			<-hold
		}()
	}
	later := make(map[int]bool)
	for range 4 {
		later[<-tids] = true
	}

	w := httptest.NewRecorder()
	c.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 {
		t.Errorf("status %d: %s", w.Code, w.Body)
	}

	check := func(what string, pid int) {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			got, err := schedPolicy(tid)
			if err == syscall.ESRCH {
				continue
			}
			expect := want
			if tid == idleTID {
				expect = schedIdle
			}
			switch {
			case err != nil:
				t.Errorf("%s thread %d: %v", what, tid, err)
			case got != expect:
				t.Errorf("%s thread %d (started after New: %v): policy %d, want %d", what, tid, later[tid], got, expect)
			}
		}
	}
	check("Go", os.Getpid())
	workers := c.Status().Workers
	if len(workers) != 2 {
		t.Fatalf("%d workers, want 2", len(workers))
	}
	for _, wk := range workers {
		check("worker", wk.PID)
	}
	for tid := range later {
		if got, _ := schedPolicy(tid); got != want {
			t.Errorf("thread %d started after New: policy %d, want %d", tid, got, want)
		}
	}
	close(hold)
	close(release)
}
