//go:build !linux

package wsgi

import (
	"errors"
	"os"
	"syscall"
)

// socketpair returns a connected pair of Unix stream sockets, both
// close-on-exec. Without SOCK_CLOEXEC the flag is set under
// syscall.ForkLock, so that no process started meanwhile inherits them.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return fds, nil
}

// unixSocket returns a new Unix stream socket, close-on-exec, set under
// syscall.ForkLock as in socketpair.
func unixSocket() (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(fd)
	return fd, nil
}

// sysProcAttr is how Python processes are started: in their own process
// group (terminal signals go to Go, which decides). There is no Pdeathsig
// outside Linux: a worker (and a zygote) exits when its socket to Go
// reaches EOF, which the kernel delivers when the Go process dies, however
// it dies; only a worker stuck in a request outlives Go until that request
// ends.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// procRSS is not available: resident memory is read from /proc on Linux
// only. Status reports 0 and Config.MaxRSS is rejected.
func procRSS(pid int) (int64, error) {
	return 0, errors.New("wsgi: the resident memory of a process is only read on Linux")
}

// rssSupported: MaxRSS and the RSS of workers work here.
const rssSupported = false

// batchScheduling: SCHED_BATCH is Linux's; Config.BatchScheduling does
// nothing elsewhere (New reports it off).
func batchScheduling() error { return errors.ErrUnsupported }

// reopenForRead would open f's file anew; outside Linux there is no
// /proc/self/fd to do it by, so it returns nil and a wsgi.file_wrapper
// file is sent with pread(2) from the app's descriptor (see sendFile).
func reopenForRead(f *os.File) *os.File { return nil }

// sharedMemory returns a new file of size bytes for memory shared with a
// worker (see startMap): a temporary file unlinked at once (there is no
// memfd_create outside Linux), close-on-exec as os.CreateTemp makes it.
func sharedMemory(size int) (*os.File, error) {
	f, err := os.CreateTemp("", "graft-started-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
