package wsgi

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/graft-dev/graft/internal/netlist"
)

// DefaultBind is the address [Listen] binds when it is given none.
const DefaultBind = "127.0.0.1:8000"

// ListenConfig says where a server listens. The zero value listens on
// [DefaultBind] over plain HTTP, or on the sockets systemd passed.
type ListenConfig struct {
	// Binds lists the addresses to serve the application on, like
	// gunicorn's --bind: "host:port" for TCP (":8000" is every interface,
	// "[::1]:8000" an IPv6 address) and "unix:/path/to.sock" for a Unix
	// socket, as a reverse proxy on the same host uses. [DefaultBind] when
	// empty. Ignored when systemd passes sockets (see Listen).
	Binds []string

	// OpsBind is the address of the operations listener, which [Serve]
	// gives the container's metrics, status page and probes
	// ([Container.OpsHandler]): keep it where only operators reach it, such
	// as "127.0.0.1:9100". Same forms as Binds; no operations listener when
	// empty.
	OpsBind string

	// CertFile and KeyFile are PEM files of a certificate (with its chain)
	// and its key: with them, every listener of Binds serves HTTPS (HTTP/2
	// and HTTP/1.1). Both or neither. The operations listener stays plain
	// HTTP. They are read again when they change (a renewal replacing
	// them, in place or by a symbolic link: certbot, cert-manager's
	// Secret volume), seen by the next TLS handshake a second or more
	// after the last look, and by [Listeners.ReloadCertificate] (SIGHUP
	// under [Serve]).
	CertFile, KeyFile string

	// SocketMode is the permission bits of the Unix sockets Listen creates:
	// 0660 when 0, so that the service's user and group may connect (put
	// the reverse proxy's user in that group, or use 0666). A socket has
	// them before it accepts any connection: it is bound at a temporary
	// name in the same directory, chmod'ed, renamed to its path, and only
	// then listens (the process's umask is left alone).
	SocketMode fs.FileMode

	// NoSocketActivation ignores sockets passed by systemd.
	NoSocketActivation bool

	// ProxyProtocol lists the load balancers (addresses and CIDRs, "*" for
	// every address) that pass TCP through with HAProxy's PROXY protocol,
	// as AWS's Network Load Balancer does with proxy protocol v2 on:
	// connections from them must begin with its header, which gives the
	// client's address ([ProxyProtocol]). For the application's listeners
	// only; off when empty. Listen parses it into [Listeners.ProxyFrom].
	ProxyProtocol []string
}

// Listeners are a server's open sockets. [Listen] opens them before the
// container starts its workers, so that a busy port fails at once; [Serve]
// serves on them and closes them. The fields may also be filled by hand.
type Listeners struct {
	// Main are the listeners of the application.
	Main []net.Listener
	// Ops is the operations listener, or nil.
	Ops net.Listener
	// TLS, when not nil, makes Serve speak TLS on every Main listener
	// (with its Certificates or GetCertificate).
	TLS *tls.Config
	// ProxyFrom, when not empty, makes Serve take the PROXY protocol
	// header of connections from these networks on every Main listener
	// (see [ProxyProtocol]).
	ProxyFrom []netip.Prefix

	cert      *certFiles     // the certificate Listen loaded, if any
	activated []net.Listener // those of Main and Ops that systemd passed (see Listen)
}

// ReloadCertificate reads the certificate and key files given to [Listen]
// again, for a renewed certificate: new TLS handshakes use it, and if it
// does not load, the current one stays and the error says why. [Serve]
// calls it on SIGHUP. The handshakes also look whether the files changed,
// once a second at most, and read them again if so (see
// docs/operations.md). It does nothing for a TLS config set by hand.
func (ls *Listeners) ReloadCertificate() error {
	if ls.cert == nil {
		return nil
	}
	return ls.cert.load()
}

// Close closes every listener, for a program that stops before [Serve]
// (for example because [New] failed). Closing listeners that Serve already
// closed is harmless.
func (ls *Listeners) Close() error {
	var errs []error
	for _, ln := range ls.all() {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (ls *Listeners) all() []net.Listener {
	all := append([]net.Listener(nil), ls.Main...)
	if ls.Ops != nil {
		all = append(all, ls.Ops)
	}
	return all
}

// Listen opens the listeners of cfg, or returns an error naming the
// address that could not be bound, having closed the others. Call it
// before [New], so that a port in use fails in milliseconds rather than
// after the app's import, and pass its result to [Serve].
//
// Socket activation: when systemd started the process with sockets
// (LISTEN_PID is this process and LISTEN_FDS > 0), Listen uses them
// instead of Binds, in order, and removes the LISTEN_* variables from the
// environment so that no child sees them. A socket named "ops" in
// LISTEN_FDNAMES (FileDescriptorName=ops in the .socket unit) is the
// operations listener, in place of OpsBind. When that is the only socket
// passed, Binds are bound as without activation, and with no Binds Listen
// fails, rather than serve on DefaultBind.
func Listen(cfg ListenConfig) (*Listeners, error) {
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("wsgi: listen: a certificate needs both CertFile and KeyFile")
	}
	if cfg.SocketMode == 0 {
		cfg.SocketMode = 0o660
	}
	from, err := netlist.Parse(cfg.ProxyProtocol...)
	if err != nil {
		return nil, fmt.Errorf("wsgi: listen: PROXY protocol: load balancer %w", err)
	}
	ls := &Listeners{ProxyFrom: from}
	if cfg.CertFile != "" {
		ls.cert = &certFiles{certFile: cfg.CertFile, keyFile: cfg.KeyFile, every: certCheckEvery, since: time.Now()}
		if err := ls.cert.load(); err != nil {
			return nil, err
		}
		ls.TLS = &tls.Config{GetCertificate: ls.cert.get, MinVersion: tls.VersionTLS12}
	}
	if !cfg.NoSocketActivation {
		main, ops, err := activated()
		if err != nil {
			return nil, err
		}
		ls.Main, ls.Ops = main, ops
		ls.activated = slices.Clip(main)
		if ops != nil {
			ls.activated = append(ls.activated, ops)
		}
	}
	fail := func(err error) (*Listeners, error) {
		ls.Close()
		return nil, err
	}
	if len(ls.Main) == 0 {
		binds := cfg.Binds
		if len(binds) == 0 && ls.Ops != nil {
			// DefaultBind, a loopback port, is not what a service whose
			// sockets systemd holds serves on.
			return fail(errors.New("wsgi: socket activation: systemd passed only the operations socket (named ops) and no application socket: " +
				"add the application's .socket unit to the service's Sockets= (with a FileDescriptorName other than ops), or give Binds (the examples' -bind)"))
		}
		if len(binds) == 0 {
			binds = []string{DefaultBind}
		}
		for _, b := range binds {
			ln, err := listen(b, cfg.SocketMode)
			if err != nil {
				return fail(fmt.Errorf("wsgi: %w", err))
			}
			ls.Main = append(ls.Main, ln)
		}
	}
	if ls.Ops == nil && cfg.OpsBind != "" {
		ln, err := listen(cfg.OpsBind, cfg.SocketMode)
		if err != nil {
			return fail(fmt.Errorf("wsgi: operations listener: %w", err))
		}
		ls.Ops = ln
	}
	return ls, nil
}

// fromSystemd reports whether ln is a socket systemd passed (see Listen).
func (ls *Listeners) fromSystemd(ln net.Listener) bool {
	return ln != nil && slices.Contains(ls.activated, ln)
}

// CheckBind checks the form of addr, an address of [ListenConfig] (Binds
// or OpsBind), without binding it: "unix:" and a path, or a TCP
// "host:port" whose port is a number up to 65535 or a service name. Listen
// refuses the same addresses with the same error; a program checks its
// command line with it before anything starts. What only binding tells (a
// port in use, a host name that does not resolve, a directory that does
// not exist) is left to Listen.
func CheckBind(addr string) error {
	if err := checkBind(addr); err != nil {
		return fmt.Errorf("wsgi: %w", err)
	}
	return nil
}

// checkBind is CheckBind without the package prefix, which Listen adds
// with its own context.
func checkBind(addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return errors.New("bind \"unix:\": want unix:/path/to.sock")
		}
		return nil
	}
	if strings.HasPrefix(addr, "fd://") {
		// gunicorn's form for a socket its parent passed it
		return fmt.Errorf("bind %q: gunicorn's fd:// is not supported: pass inherited sockets with systemd socket activation (LISTEN_FDS and LISTEN_PID, LISTEN_FDNAMES for ops)", addr)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bind %q: want host:port or unix:/path/to.sock", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("bind %q: the port is not a number up to 65535 or a service name", addr)
	}
	return nil
}

// listen binds one address: "unix:PATH" or a TCP "host:port".
func listen(addr string, mode fs.FileMode) (net.Listener, error) {
	if err := checkBind(addr); err != nil {
		return nil, err
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return listenUnix(path, mode)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return ln, nil
}

// listenFDsStart is the first descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// activated returns the listening sockets systemd passed to this process,
// if any: the one named "ops" apart. It unsets the LISTEN_* variables.
func activated() (main []net.Listener, ops net.Listener, err error) {
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	if pid == "" || fds == "" || pid != strconv.Itoa(os.Getpid()) {
		return nil, nil, nil
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > 1024 {
		return nil, nil, fmt.Errorf("wsgi: socket activation: LISTEN_FDS=%q is not a count of sockets", fds)
	}
	var nameList []string
	if names != "" {
		nameList = strings.Split(names, ":")
	}
	var all []net.Listener
	for i := range n {
		fd := listenFDsStart + i
		name := "LISTEN_FD_" + strconv.Itoa(fd)
		if i < len(nameList) && nameList[i] != "" {
			name = nameList[i]
		}
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), name)
		ln, err := net.FileListener(f)
		f.Close() // FileListener has its own copy
		if err != nil {
			for _, l := range all {
				l.Close()
			}
			return nil, nil, fmt.Errorf("wsgi: socket activation: descriptor %d (%s) is not a listening stream socket: %w", fd, name, err)
		}
		all = append(all, ln)
		if name == "ops" && ops == nil {
			ops = ln
		} else {
			main = append(main, ln)
		}
	}
	return main, ops, nil
}
