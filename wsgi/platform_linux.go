package wsgi

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// socketpair returns a connected pair of Unix stream sockets, both
// close-on-exec (atomically).
func socketpair() ([2]int, error) {
	return syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
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
