package cli

import (
	"os/signal"
	"syscall"
)

// ignoreEarlySignals makes SIGHUP and SIGPIPE harmless from the start of a
// command. Until wsgi.Serve takes the signals over, after the app has
// imported (which may take a minute), their default action would end the
// process: a SIGHUP sent to reload (systemd's ExecReload) or by a log
// rotation, and a SIGPIPE when the reader of its stderr goes away (a
// restarted log shipper, `| head`). A SIGHUP before Serve is dropped: the
// workers being started load the code on disk already. Serve handles
// SIGHUP from then on and keeps SIGPIPE ignored, so that log writes to a
// closed pipe fail (the lines are lost) while serving goes on.
func ignoreEarlySignals() {
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
}
