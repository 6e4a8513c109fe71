package wsgi

import "log/slog"

// Keys of the attributes the container's log lines carry. Where httplog
// has a name for the thing (in its ECS schema, the default), the key is
// that name, so that the container's lines and the access log's line for a
// request are filtered and joined alike; the other keys are graft's own.
const (
	logMethod    = "http.request.method"
	logPath      = "url.path"
	logRequestID = "request.id"
	logError     = "error"             // httplog.ErrorKey; its schemas rename it (error.message in ECS)
	logTraceback = "error.stack_trace" // a Python traceback
	logStack     = "graft.stack"       // a dump of a live process's Python stacks (faulthandler)
	logBytesSent = "http.response.body.bytes"
	logLogger    = "log.logger"   // the name of a Python logger
	logWorker    = "graft.worker" // the pid of a worker process (as in the access log)
	logClient    = "client.ip"    // a connection's peer, before the request is read
	logStatus    = "http.response.status_code"
)

// requestAttrs returns the attributes that name a request in a log line,
// then more: its method, its path and its id, left out when the request
// has none (an empty request.id is noise: a service without
// middleware.RequestID would print it on every line).
func requestAttrs(method, path, id string, more ...any) []any {
	attrs := make([]any, 0, 3+len(more))
	attrs = append(attrs, slog.String(logMethod, method), slog.String(logPath, path))
	if id != "" {
		attrs = append(attrs, slog.String(logRequestID, id))
	}
	return append(attrs, more...)
}
