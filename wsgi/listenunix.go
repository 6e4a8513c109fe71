package wsgi

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// unixBacklog is the listen(2) backlog of the Unix sockets Listen binds;
// the kernel lowers it to its own maximum (net.core.somaxconn,
// kern.ipc.somaxconn), as for Go's own listeners.
const unixBacklog = 1<<16 - 1

// listenUnix binds a Unix socket at path with the permissions mode,
// replacing a stale socket file that no server answers on.
//
// The socket never exists at path, nor accepts a connection anywhere, with
// other permissions than mode: binding creates the file with the process's
// umask (which is process-wide, so it is left alone), so the socket is
// bound at a temporary name in the same directory, chmod'ed there, renamed
// to path (atomically, replacing a stale socket), and only then listens. A
// connection to it before then, at either name, is refused (ECONNREFUSED).
// The temporary name is as long as path's base name, or 8 bytes when that
// is shorter, so a path within a few bytes of the system's limit on socket
// paths (108 bytes on Linux, 104 on macOS) with a base name under 8 bytes
// may fail to bind.
func listenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	return bindUnix(path, mode, nil)
}

// bindUnix is listenUnix; observe, when not nil, is called at each step
// of the setup, for a test to look at the directory meanwhile.
func bindUnix(path string, mode fs.FileMode, observe func()) (net.Listener, error) {
	step := func() {
		if observe != nil {
			observe()
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("bind unix:%s: the file exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("bind unix:%s: another server is listening on it", path)
		}
		// Left by a server that died: nobody answers on it. The rename
		// below replaces it.
	}
	fd, err := unixSocket()
	if err != nil {
		return nil, fmt.Errorf("bind unix:%s: %w", path, os.NewSyscallError("socket", err))
	}
	tmp, err := bindTemp(fd, path)
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind unix:%s: %w", path, err)
	}
	step()
	cleanup := func(name string, err error) (net.Listener, error) {
		syscall.Close(fd)
		os.Remove(name)
		return nil, fmt.Errorf("bind unix:%s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return cleanup(tmp, err)
	}
	step()
	if err := os.Rename(tmp, path); err != nil {
		return cleanup(tmp, err)
	}
	step()
	if err := syscall.Listen(fd, unixBacklog); err != nil {
		return cleanup(path, os.NewSyscallError("listen", err))
	}
	f := os.NewFile(uintptr(fd), path)
	ln, err := net.FileListener(f) // a duplicate of fd
	f.Close()
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("bind unix:%s: %w", path, err)
	}
	return &unixListener{Listener: ln, addr: &net.UnixAddr{Name: path, Net: "unix"}}, nil
}

// bindTemp binds the socket fd at a new temporary name in path's
// directory and returns it.
func bindTemp(fd int, path string) (string, error) {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	dir, base := filepath.Split(path)
	name := make([]byte, max(len(base), 8))
	for range 100 {
		name[0] = '.'
		for i := 1; i < len(name); i++ {
			name[i] = chars[rand.IntN(len(chars))]
		}
		tmp := dir + string(name)
		err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: tmp})
		if err == nil {
			return tmp, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return "", os.NewSyscallError("bind", err)
		}
	}
	return "", errors.New("no free temporary name in the socket's directory")
}

// unixListener is a Unix socket listenUnix bound: its Addr is the path it
// was moved to (the socket itself keeps the temporary name it was bound
// at), and Close removes that path, as Go's own Unix listeners do.
type unixListener struct {
	net.Listener
	addr *net.UnixAddr
	once sync.Once
}

// Addr is the socket's path.
func (l *unixListener) Addr() net.Addr { return l.addr }

// Close closes the listener and removes its socket file, once.
func (l *unixListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { os.Remove(l.addr.Name) })
	return err
}
