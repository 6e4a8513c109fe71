package wsgi

import (
	"strings"
	"testing"
	"time"
)

// TestBasicConfig: an app that sets up logging with logging.basicConfig
// at import, the most common way, gets the level it asks for. graft's
// handler on the root logger made basicConfig do nothing (it configures
// only a root logger without handlers): the root logger stayed at WARNING
// and every INFO record of the app was dropped, where gunicorn printed
// them. A level or a format alone keeps graft's handler (records with
// their level and logger); a stream, a file, handlers or force replace it
// with the app's, as dictConfig does.
func TestBasicConfig(t *testing.T) {
	cases := []struct {
		name, kwargs string
		noPreload    bool     // the worker imports the app itself
		want         []string // in the log
	}{
		{"level", `{"level": "INFO"}`, false, []string{
			`level=INFO msg=import-marker`, `log.logger=basicconfigapp`,
			`level=INFO msg=request-marker`, `log.logger=basicconfigapp`}},
		{"level, no preload", `{"level": "INFO"}`, true, []string{
			`level=INFO msg=request-marker`, `log.logger=basicconfigapp`}},
		{"level and format", `{"level": "INFO", "format": "%(levelname)s %(name)s %(message)s"}`, false, []string{
			`level=INFO msg=request-marker`, `log.logger=basicconfigapp`}},
		{"stream", `{"level": "INFO", "stream": "stdout", "format": "%(levelname)s %(name)s %(message)s"}`, false, []string{
			`msg="INFO basicconfigapp import-marker"`, `msg="INFO basicconfigapp request-marker" graft.worker=`}},
		{"force", `{"level": "INFO", "force": true, "format": "%(levelname)s %(name)s %(message)s"}`, false, []string{
			`msg="INFO basicconfigapp request-marker" graft.worker=`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newContainer(t, Config{App: "basicconfigapp:app", NoPreload: tc.noPreload, Env: []string{"GRAFT_BASICCONFIG=" + tc.kwargs}})
			srv := newServer(t, c)
			if b := mustGet(t, srv.URL+"/"); string(b) != "logged" {
				t.Fatalf("got %q", b)
			}
			logHas(t, logs, 5*time.Second, tc.want...)
			if n := strings.Count(logs.String(), "request-marker"); n != 1 {
				t.Errorf("the record was logged %d times, want once:\n%s", n, logs.String())
			}
		})
	}
}
