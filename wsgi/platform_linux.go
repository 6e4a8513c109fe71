package wsgi

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketpair returns a connected pair of Unix stream sockets, both
// close-on-exec (atomically).
func socketpair() ([2]int, error) {
	return syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
}

// unixSocket returns a new Unix stream socket, close-on-exec (atomically).
func unixSocket() (int, error) {
	return syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
}

// sysProcAttr is how Python processes are started: in their own process
// group (terminal signals go to Go, which decides), and killed by the
// kernel if the Go process dies (Pdeathsig), even by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// procRSS returns the resident memory of a process in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("wsgi: bad statm for %d", pid)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}

// rssSupported: MaxRSS and the RSS of workers work here.
const rssSupported = true

// Linux's scheduling policies (sched(7)).
const (
	schedOther       = 0
	schedBatch       = 3
	schedIdle        = 5
	schedResetOnFork = 0x40000000
)

// batchScheduling moves every thread of this process from SCHED_OTHER to
// SCHED_BATCH (Config.BatchScheduling). A thread keeps the policy of the
// thread that started it, so the Go runtime's later threads and the
// processes they start inherit it; a thread started during a pass by one
// not yet moved is moved by the next pass, and the loop ends after two
// passes in a row that moved none (a thread whose clone copied its
// creator's policy just before the creator moved can appear in the task
// list only after the first of them). Threads under another policy are
// left alone.
func batchScheduling() error {
	quiet := 0
	for pass := 0; pass < 10; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("wsgi: batch scheduling: %w", err)
		}
		moved := 0
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			policy, err := schedPolicy(tid)
			if err == syscall.ESRCH {
				continue // the thread exited
			}
			if err != nil {
				return fmt.Errorf("wsgi: batch scheduling: sched_getscheduler(%d): %w", tid, err)
			}
			if policy&^schedResetOnFork != schedOther {
				continue
			}
			var param int32 // struct sched_param's priority: 0 outside real time
			_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid),
				uintptr(schedBatch|policy&schedResetOnFork), uintptr(unsafe.Pointer(&param)))
			if errno == syscall.ESRCH {
				continue
			}
			if errno != 0 {
				return fmt.Errorf("wsgi: batch scheduling: sched_setscheduler(%d, SCHED_BATCH): %w", tid, errno)
			}
			moved++
		}
		if moved > 0 {
			quiet = 0
		} else if quiet++; quiet == 2 {
			return nil
		}
	}
	return nil
}

// schedPolicy returns the scheduling policy of thread (or process) tid.
func schedPolicy(tid int) (int, error) {
	policy, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(policy), nil
}

// reopenForRead opens the file of f anew for reading, through
// /proc/self/fd (which reaches unlinked files too): the same file, but a
// new open file description, with a position of its own, which f's owner
// cannot move. It returns nil when it cannot (no /proc, no permission to
// open the file now), or when f is not open for reading, so that the
// caller's read of f fails as it would have.
func reopenForRead(f *os.File) *os.File {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	var out *os.File
	sc.Control(func(fd uintptr) {
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		if errno != 0 || flags&syscall.O_ACCMODE == syscall.O_WRONLY {
			return
		}
		out, _ = os.Open("/proc/self/fd/" + strconv.Itoa(int(fd)))
	})
	return out
}

// sharedMemory returns a new anonymous file of size bytes (memfd_create,
// close-on-exec), for memory shared with a worker (see startMap): it is
// never on a disk, so no writeback ever touches its pages.
func sharedMemory(size int) (*os.File, error) {
	fd, err := unix.MemfdCreate("graft-started", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "graft-started")
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
