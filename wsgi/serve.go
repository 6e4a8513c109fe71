package wsgi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ServeConfig configures [Serve]. The zero value is a documented default
// for every field.
type ServeConfig struct {
	// GracefulTimeout bounds a shutdown: the time in-flight requests get to
	// finish, after the listeners close, before connections are cut and the
	// workers stopped (gunicorn's --graceful-timeout). It counts from the
	// start of the shutdown, which first keeps idle keep-alive connections
	// open for KeepAliveDrain, answering the requests they send with
	// Connection: close rather than closing them under a request (see
	// docs/operations.md). Queued requests are
	// served as workers free up meanwhile; those still queued when it runs
	// out are answered 503 (ErrClosed) before the cut. The workers still
	// running requests are then killed; idle ones and the zygotes keep up
	// to 2s to run their exit hooks. 30s when 0.
	GracefulTimeout time.Duration

	// KeepAliveDrain is how long a shutdown first keeps the application's
	// keep-alive connections open, the listeners still accepting, while
	// every request that begins is answered with Connection: close (HTTP/2:
	// GOAWAY), before net/http's Shutdown closes the idle ones: a client
	// (a load balancer's pool) sending on an idle connection as the
	// shutdown begins gets its answer and a closed connection, rather than
	// an EOF or a reset. It ends early once no application connection is
	// open, and counts in GracefulTimeout. [DefaultKeepAliveDrain] (1s)
	// when 0, at most a quarter of GracefulTimeout (a shorter grace gets a
	// shorter drain); a value set must be at most a quarter of
	// GracefulTimeout, or Serve fails before serving, saying so: behind a
	// load balancer that keeps idle connections long (AWS ALB 60s, Google
	// Cloud's 600s), a drain as long as its idle timeout lets it close
	// every one itself, and needs a GracefulTimeout four times as long.
	// Negative: no drain, idle connections are closed at once (net/http's
	// Shutdown alone).
	KeepAliveDrain time.Duration

	// Drained, if not nil, is called once during a shutdown, after the
	// HTTP server has stopped (every request answered or cut) and before
	// the container's workers are stopped: the place to stop what still
	// sends requests to the container on its own, such as
	// migrate.Migrator.Shutdown, whose shadow runs would otherwise find the
	// container closed. ctx is done when GracefulTimeout runs out (counted
	// from the start of the shutdown) or at a second signal. It is not
	// called when Serve fails before serving.
	Drained func(ctx context.Context)

	// Limits bounds the request line, header fields and whole head of
	// every plain HTTP connection, application and operations listener
	// alike (see [Guard]). Zero values are the defaults of
	// [RequestLimits]. HTTP/1.x over TLS is checked too (see [GuardTLS]);
	// HTTP/2 keeps net/http's own rules, but its header lists get the same
	// total (Head): Serve sets http.Server.MaxHeaderBytes from Limits.
	Limits RequestLimits

	// NoHTTP2 serves HTTP/1.1 only over TLS. By default TLS listeners
	// offer HTTP/2 and HTTP/1.1 (ALPN).
	NoHTTP2 bool

	// H2C also serves HTTP/2 without TLS on plain application listeners
	// ("prior knowledge": the connection starts with HTTP/2's preface, as
	// gRPC clients, Envoy and Google Cloud Run's end-to-end HTTP/2 send
	// it); HTTP/1.1 goes on as before. For a front proxy that speaks it:
	// browsers speak HTTP/2 only over TLS. The Upgrade: h2c dance is not
	// supported (net/http's choice). Not with TLS listeners, which offer
	// HTTP/2 already.
	H2C bool

	// ReadHeaderTimeout bounds the time a client takes to send a request's
	// headers (slowloris): 10s when 0. Over HTTP/2, h2c (H2C) and TLS
	// alike, the guard applies it to each header block, and to a
	// connection's first from its preface (h2c) or TLS handshake (see
	// [Guard] and docs/operations.md): net/http's HTTP/2 server alone
	// would bound them by IdleTimeout only.
	ReadHeaderTimeout time.Duration

	// IdleTimeout closes keep-alive connections idle for this long: 2
	// minutes when 0.
	IdleTimeout time.Duration

	// BodyTimeout bounds how long a read of a request's body waits for the
	// client's next bytes (nginx's client_body_timeout), on the
	// application listeners: a client that sends none of its body for this
	// long fails the read (the container answers 408, [ErrBodyTimeout],
	// and the connection closes), rather than holding the connection and
	// its handler forever. It is not a limit on the whole upload, which may
	// take as long as it keeps sending. [DefaultBodyTimeout] (60s) when 0;
	// negative: no limit.
	BodyTimeout time.Duration

	// SendTimeout bounds how long any write of a response may wait for a
	// client that takes none of it, on every listener: a write to the
	// socket that has made no progress for it fails and the connection
	// closes (the client's kernel taking any bytes renews it, so a slow
	// download is never cut while it moves), and a piece of an HTTP/2
	// response (up to 16 KiB) the client grants no flow-control window
	// for in that time resets the stream. It applies to native handlers,
	// whole and streamed bridged responses, files (wsgi.file_wrapper,
	// sendfile, X-Sendfile, fallback.Static) alike, logged once per
	// connection or stream at WARN. See docs/operations.md. The
	// container's Config.SendTimeout (60s by default) when 0, or
	// [DefaultSendTimeout] without a container; negative: no limit here
	// (the container then watches its streamed responses itself, as under
	// another server, if its own SendTimeout is set).
	SendTimeout time.Duration

	// Registry is the Prometheus registry the operations listener serves
	// at /metrics, with the container's collectors added (see
	// [Container.OpsHandler]) and graft_http_refused_total, the requests
	// the guards refused by status, and, on TLS listeners,
	// graft_tls_handshake_failures_total, the TLS handshakes that failed by
	// reason (see docs/operations.md); register your own metrics in it too,
	// such as middleware.Metrics. A new registry when nil.
	Registry *prometheus.Registry

	// OpsHandler is what the operations listener serves:
	// app.OpsHandler(Registry) when nil.
	OpsHandler http.Handler

	// NoSignals leaves the process's signals alone: cancel ctx to shut
	// down, and call [Container.Reload] and [Listeners.ReloadCertificate]
	// yourself. By default SIGINT and SIGTERM shut down gracefully (a
	// second one stops at once), SIGHUP reloads the workers and the
	// certificate, and SIGPIPE is ignored.
	NoSignals bool

	// MinHeap is a floor, in bytes, under the Go heap's size before the
	// garbage collector runs, while Serve runs: see [StartHeapFloor]. It
	// costs up to that much resident memory (half of it in the examples)
	// and makes collections rare for a server whose live heap is small
	// (the examples ask for [DefaultMinHeap]). 0 leaves the collector
	// alone.
	MinHeap int64

	// Logger receives the serve loop's logs: the container's logger when
	// nil (slog.Default() without a container).
	Logger *slog.Logger
}

// Serve serves h on the listeners of ls, with app (the container behind
// h) managed for the life of the server, until ctx is done or the process
// gets SIGINT or SIGTERM. Then it shuts down in the reverse order of the
// start: the application listeners close and in-flight requests get
// GracefulTimeout to finish (app's readiness probe answers 503 from now
// on), the workers stop, and the operations listener, which serves until
// then, closes. SIGPIPE is ignored while Serve runs the signals (a log
// write to a closed pipe fails, the server goes on). SIGHUP reloads the workers
// without failing a request ([Container.Reload]; one reload at a time,
// and a SIGHUP during a reload runs one more after it), and rereads the
// certificate files given to [Listen] ([Listeners.ReloadCertificate]).
//
// ls comes from [Listen], before [New]:
//
//	ls, err := wsgi.Listen(wsgi.ListenConfig{Binds: []string{":8000"}, OpsBind: "127.0.0.1:9100"})
//	if err != nil {
//		return err // the port is in use: no worker was started
//	}
//	defer ls.Close()
//	app, err := wsgi.New(wsgi.Config{App: "mysite.wsgi:application"})
//	if err != nil {
//		return err
//	}
//	return wsgi.Serve(context.Background(), ls, handler, app, wsgi.ServeConfig{})
//
// app may be nil for a server without a container, if ls has no
// operations listener or cfg.OpsHandler is set. Serve closes the
// listeners of ls in every case. It returns nil after a
// graceful shutdown, and an error if a listener fails or the shutdown
// outlasts GracefulTimeout. It logs a "listening" line per listener, with
// its URL, once every listener serves.
func Serve(ctx context.Context, ls *Listeners, h http.Handler, app *Container, cfg ServeConfig) error {
	if ls == nil || len(ls.Main) == 0 {
		return errors.New("wsgi: serve: no listener")
	}
	defer ls.Close() // those whose Serve never began, and after an error
	if h == nil {
		return errors.New("wsgi: serve: nil handler")
	}
	if cfg.H2C && ls.TLS != nil {
		return errors.New("wsgi: serve: H2C is for plain listeners: TLS listeners offer HTTP/2 already")
	}
	// Each negative field is named with its value (the error used to name
	// all four, whichever was wrong).
	var negative []string
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"GracefulTimeout", cfg.GracefulTimeout}, {"ReadHeaderTimeout", cfg.ReadHeaderTimeout}, {"IdleTimeout", cfg.IdleTimeout}} {
		if f.v < 0 {
			negative = append(negative, fmt.Sprintf("%s %v is negative", f.name, f.v))
		}
	}
	if cfg.MinHeap < 0 {
		negative = append(negative, fmt.Sprintf("MinHeap %d is negative", cfg.MinHeap))
	}
	if len(negative) > 0 {
		return errors.New("wsgi: serve: " + strings.Join(negative, "; "))
	}
	if cfg.GracefulTimeout == 0 {
		cfg.GracefulTimeout = 30 * time.Second
	}
	if err := checkKeepAliveDrain(cfg); err != nil {
		return err
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = DefaultSendTimeout
		if app != nil {
			cfg.SendTimeout = app.cfg.SendTimeout // 0: none
		}
	}
	log := cfg.Logger
	if log == nil {
		if app != nil {
			log = app.log
		} else {
			log = slog.Default()
		}
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if ls.cert != nil {
		ls.cert.log.Store(log) // a certificate reloaded because its files changed
	}
	refused := newRefusals(cfg.Registry, log).report
	opsHandler := cfg.OpsHandler
	if ls.Ops != nil && opsHandler == nil {
		if app == nil {
			return errors.New("wsgi: serve: an operations listener needs a container or ServeConfig.OpsHandler")
		}
		opsHandler = app.OpsHandler(cfg.Registry)
	}

	stopFloor, _ := StartHeapFloor(cfg.MinHeap) // MinHeap >= 0: no error
	defer stopFloor()

	var sigc chan os.Signal
	if !cfg.NoSignals {
		sigc = make(chan os.Signal, 4)
		signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigc)
		// A log write to a standard error whose reader went away (a
		// restarted log shipper, `| head`) fails instead of ending the
		// process, as SIGPIPE's default action on fd 2 would.
		signal.Ignore(syscall.SIGPIPE)
	}

	// newServer makes a server of h; protocols, if not nil, sets its TLS
	// config and protocols before GuardServer sets its HTTP/2 up by them.
	newServer := func(h http.Handler, protocols func(*http.Server)) *http.Server {
		srv := &http.Server{
			Handler:           h,
			MaxHeaderBytes:    cfg.Limits.maxHeaderBytes(),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		if cfg.SendTimeout > 0 {
			// Every connection's writes are watched (SendTimeout,
			// and SendTimeoutHandler for HTTP/2 streams): the container's
			// own watch steps aside.
			srv.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
				return context.WithValue(ctx, sendWatchedCtxKey, true)
			}
		}
		if protocols != nil {
			protocols(srv)
		}
		// Every listener is guarded: hijacked connections, and HTTP/2's
		// header timeout over TLS (guardh2tls.go) and h2c.
		GuardServer(srv)
		return srv
	}
	errc := make(chan error, len(ls.Main)+1)
	serve := func(what string, serve func() error) {
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("wsgi: serve: %s: %w", what, err)
		}
	}

	// One line a second at most says that a listener, out of descriptors,
	// closed idle connections (fdshed.go).
	var shedWarn rateLog

	// Start: the operations listener, then the application's.
	var opsSrv *http.Server
	if ls.Ops != nil {
		opsSrv = newServer(opsHandler, nil)
		var ln net.Listener = &guardListener{Listener: SendTimeout(ls.Ops, cfg.SendTimeout, log), lim: cfg.Limits.withDefaults(), refused: refused}
		ln = newShedListener(ln, opsSrv, log, &shedWarn)
		go serve("operations listener", func() error { return opsSrv.Serve(ln) })
		msg := "operations listener"
		if ls.fromSystemd(ls.Ops) {
			msg = "operations listener on a socket passed by systemd"
		}
		log.Info(msg, slog.String("url.full", listenerURL(ls.Ops, false)+"/status"))
	}
	if cfg.BodyTimeout > 0 {
		h = withBodyTimeout(h, cfg.BodyTimeout)
	}
	if cfg.SendTimeout > 0 && (ls.TLS != nil && !cfg.NoHTTP2 || cfg.H2C) {
		h = SendTimeoutHandler(h, cfg.SendTimeout, log)
	}
	drain := newConnDrain()
	srv := newServer(drain.handler(h), func(srv *http.Server) {
		if ls.TLS != nil {
			// GuardTLS does the handshakes with this config; net/http reads
			// its NextProtos to set up its HTTP/2 server.
			srv.TLSConfig = ls.TLS.Clone()
			srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
			if cfg.NoHTTP2 {
				srv.TLSConfig.NextProtos = []string{"http/1.1"}
			}
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetHTTP2(!cfg.NoHTTP2)
		} else if cfg.H2C {
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
		}
	})
	srv.ConnState = drain.connState(srv.ConnState) // counts the connections, then GuardServer's hook
	// Logged before serving, so that the line comes before any request's:
	// the sockets have been listening since Listen.
	for _, ln := range ls.Main {
		msg := "listening"
		if ls.fromSystemd(ln) {
			msg = "listening on a socket passed by systemd"
		}
		log.Info(msg, slog.String("url.full", listenerURL(ln, ls.TLS != nil)))
	}
	// Every listener is wrapped before any is served; GuardServer has set
	// HTTP/2 up in srv.TLSConfig already, which guardTLS copies (when
	// srv.Serve set it up, a listener's copy raced with the setup of the
	// one served before it).
	guarded := make([]net.Listener, len(ls.Main))
	var tlsFailed *handshakeFailures
	if ls.TLS != nil {
		tlsFailed = newHandshakeFailures(cfg.Registry, log)
	}
	for i, ln := range ls.Main {
		ln = SendTimeout(ln, cfg.SendTimeout, log) // under TLS: see sendconn.go
		if len(ls.ProxyFrom) > 0 {
			ln = ProxyProtocol(ln, ls.ProxyFrom, log)
		}
		if ls.TLS != nil {
			guarded[i] = guardTLS(ln, srv.TLSConfig, cfg.Limits, refused, tlsFailed, log)
		} else {
			guarded[i] = &guardListener{Listener: ln, lim: cfg.Limits.withDefaults(), refused: refused,
				headerTimeout: cfg.ReadHeaderTimeout}
		}
	}
	for i, gl := range guarded {
		gl = newShedListener(gl, srv, log, &shedWarn)
		go serve(ls.Main[i].Addr().String(), func() error { return srv.Serve(gl) })
	}

	// Reloads run one at a time; a SIGHUP during a reload asks for one
	// more, since the code may have changed again since it began.
	rctx, stopReloads := context.WithCancel(context.Background())
	hup := make(chan struct{}, 1)
	reloads := make(chan struct{})
	go func() {
		defer close(reloads)
		for {
			select {
			case <-rctx.Done():
				return
			case <-hup:
				// The container logs the outcome, and a failure with its
				// traceback: once, so not here.
				_ = app.Reload(rctx)
			}
		}
	}()

	var failed error
wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down", slog.String("graft.reason", context.Cause(ctx).Error()),
				slog.Duration("graft.graceful_timeout", cfg.GracefulTimeout))
			break wait
		case err := <-errc:
			failed = err
			log.Error("shutting down: a listener failed", slog.String("error", err.Error()))
			break wait
		case s := <-sigc:
			if s == syscall.SIGHUP {
				if ls.cert != nil {
					if err := ls.ReloadCertificate(); err != nil {
						log.Error("wsgi: SIGHUP: the certificate did not load; the current one stays",
							slog.String("graft.file", ls.cert.certFile), slog.String("error", err.Error()))
					} else {
						log.Info("wsgi: SIGHUP: certificate reloaded", slog.String("graft.file", ls.cert.certFile))
					}
				}
				if _, ok := app.reloader(); !ok {
					if app != nil {
						log.Warn("SIGHUP: the container cannot reload")
					}
					continue
				}
				log.Info("SIGHUP: reloading the workers")
				select {
				case hup <- struct{}{}:
				default: // one is pending already
				}
				continue
			}
			log.Info("shutting down", slog.String("graft.signal", s.String()),
				slog.Duration("graft.graceful_timeout", cfg.GracefulTimeout))
			break wait
		}
	}

	// Stop, in the reverse order. nowCtx is done on a second signal, which
	// stops everything at once; sctx also when GracefulTimeout runs out.
	nowCtx, stopNow := context.WithCancel(context.Background())
	defer stopNow()
	sctx, cancel := context.WithTimeout(nowCtx, cfg.GracefulTimeout)
	defer cancel()
	if sigc != nil {
		go func() {
			for {
				select {
				case s := <-sigc:
					if s != syscall.SIGHUP {
						log.Warn("second signal: stopping now", slog.String("graft.signal", s.String()))
						stopNow()
						return
					}
				case <-nowCtx.Done():
					return
				}
			}
		}()
	}
	stopReloads()
	if app != nil {
		app.draining.Store(true) // /readyz: 503 from now on
	}
	var errs []error
	if failed != nil {
		errs = append(errs, failed)
	}
	// Idle keep-alive connections stay open a moment (KeepAliveDrain): a
	// request sent on one as the shutdown begins is answered, with
	// Connection: close, rather than lost to net/http closing it.
	drain.drain(sctx, keepAliveDrain(cfg))
	if err := srv.Shutdown(sctx); err != nil {
		if app != nil {
			app.closeQueue() // the queued requests get 503, not a cut connection
		}
		srv.Close()
		if nowCtx.Err() != nil {
			errs = append(errs, errors.New("wsgi: serve: stopped at once by a second signal: the requests still running were cut"))
		} else {
			errs = append(errs, fmt.Errorf("wsgi: serve: requests still running after the graceful timeout (%v) were cut: %w", cfg.GracefulTimeout, err))
		}
	}
	<-reloads
	if cfg.Drained != nil {
		cfg.Drained(sctx)
	}
	if app != nil {
		// Workers told to exit with no request left (idle ones at once)
		// get exitGrace to run their exit hooks even once GracefulTimeout
		// has run out, as after any last request: only the workers still
		// running the cut requests are killed then. A second signal kills
		// every one at once.
		deadline := time.Now().Add(exitGrace)
		if d, ok := sctx.Deadline(); ok && d.After(deadline) {
			deadline = d
		}
		pctx, pcancel := context.WithDeadline(nowCtx, deadline)
		if err := app.stop(sctx, pctx); err != nil {
			errs = append(errs, err)
		}
		pcancel()
	}
	if opsSrv != nil {
		octx, ocancel := context.WithTimeout(context.Background(), time.Second)
		if opsSrv.Shutdown(octx) != nil {
			opsSrv.Close()
		}
		ocancel()
	}
	if len(errs) == 0 {
		log.Info("stopped")
	}
	return errors.Join(errs...)
}

// reloader returns the transport's Reload method, if it has one. c may
// be nil.
func (c *Container) reloader() (func(context.Context) error, bool) {
	if c == nil {
		return nil, false
	}
	rl, ok := c.tr.(interface{ Reload(context.Context) error })
	if !ok {
		return nil, false
	}
	return rl.Reload, true
}

// listenerURL is the URL a client reaches ln at: http(s)://host:port, or
// unix:/path for a Unix socket (as -bind spells it), https+unix:/path when
// it serves TLS (the http+unix scheme of requests-unixsocket and others;
// curl: --unix-socket /path https://localhost/).
func listenerURL(ln net.Listener, tls bool) string {
	addr := ln.Addr()
	if addr.Network() == "unix" {
		if tls {
			return "https+unix:" + addr.String()
		}
		return "unix:" + addr.String()
	}
	if tls {
		return "https://" + addr.String()
	}
	return "http://" + addr.String()
}
