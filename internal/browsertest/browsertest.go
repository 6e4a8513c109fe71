// Package browsertest drives headless Chromium from Go tests: a minimal
// W3C WebDriver client for Debian's chromedriver (JSON over net/http).
// Only tests import it. A test that needs the browser fails, with a
// message saying what to install, when chromium or chromedriver is
// missing.
package browsertest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// Driver and Browser are the paths of Debian's chromium-driver and
// chromium.
const (
	Driver  = "/usr/bin/chromedriver"
	Browser = "/usr/bin/chromium"
)

// WebDriver is one browser session.
type WebDriver struct {
	base string // http://127.0.0.1:PORT/session/ID
}

// Start runs chromedriver and opens a headless Chromium session, both
// stopped at the end of the test.
func Start(t testing.TB) *WebDriver {
	t.Helper()
	for _, p := range []string{Driver, Browser} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the browser test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver): %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	var log pythontest.Buffer
	cmd := exec.Command(Driver, fmt.Sprintf("--port=%d", port))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chromedriver output:\n%s", log.String())
		}
	})
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(root + "/status")
		if err == nil {
			var st struct {
				Value struct{ Ready bool }
			}
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.Value.Ready {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver not ready after 15s: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		// What the page logs (errors, CSP violations, failed loads), for
		// BrowserLog.
		"goog:loggingPrefs": map[string]string{"browser": "ALL"},
		"goog:chromeOptions": map[string]any{
			"binary": Browser,
			"args": []string{
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--window-size=1280,900",
			},
		},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err := call(http.MethodPost, root+"/session", caps, &sess); err != nil || sess.SessionID == "" {
		t.Fatalf("new session: %v\n%s", err, log.String())
	}
	wd := &WebDriver{base: root + "/session/" + sess.SessionID}
	t.Cleanup(func() { call(http.MethodDelete, wd.base, nil, nil) })
	if err := call(http.MethodPost, wd.base+"/timeouts", map[string]int{"pageLoad": 20000, "script": 10000, "implicit": 0}, nil); err != nil {
		t.Fatal(err)
	}
	return wd
}

// call sends one WebDriver command and decodes its "value" into out.
func call(method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("webdriver %s %s: %s: %s", method, u, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	var v struct{ Value json.RawMessage }
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return json.Unmarshal(v.Value, out)
}

func (wd *WebDriver) do(t testing.TB, method, path string, in, out any) {
	t.Helper()
	if err := call(method, wd.base+path, in, out); err != nil {
		t.Fatal(err)
	}
}

// Navigate loads u.
func (wd *WebDriver) Navigate(t testing.TB, u string) {
	t.Helper()
	wd.do(t, http.MethodPost, "/url", map[string]string{"url": u}, nil)
}

// CurrentURL returns the URL of the page.
func (wd *WebDriver) CurrentURL(t testing.TB) string {
	t.Helper()
	var u string
	wd.do(t, http.MethodGet, "/url", nil, &u)
	return u
}

// Source returns the page's HTML as the browser serializes it.
func (wd *WebDriver) Source(t testing.TB) string {
	t.Helper()
	var s string
	wd.do(t, http.MethodGet, "/source", nil, &s)
	return s
}

// elementKey is the W3C key of an element reference.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// Find returns the first element matching the CSS selector, failing the
// test when there is none.
func (wd *WebDriver) Find(t testing.TB, css string) string {
	t.Helper()
	var el map[string]string
	wd.do(t, http.MethodPost, "/element", map[string]string{"using": "css selector", "value": css}, &el)
	if el[elementKey] == "" {
		t.Fatalf("no element %s", css)
	}
	return el[elementKey]
}

// SendKeys types text into the element.
func (wd *WebDriver) SendKeys(t testing.TB, el, text string) {
	t.Helper()
	wd.do(t, http.MethodPost, "/element/"+url.PathEscape(el)+"/value", map[string]string{"text": text}, nil)
}

// Clear empties an input element.
func (wd *WebDriver) Clear(t testing.TB, el string) {
	t.Helper()
	wd.do(t, http.MethodPost, "/element/"+url.PathEscape(el)+"/clear", map[string]any{}, nil)
}

// Click clicks the element (an option element: selects it).
func (wd *WebDriver) Click(t testing.TB, el string) {
	t.Helper()
	wd.do(t, http.MethodPost, "/element/"+url.PathEscape(el)+"/click", map[string]any{}, nil)
}

// Execute runs script in the page and returns its value.
func (wd *WebDriver) Execute(t testing.TB, script string) any {
	t.Helper()
	var v any
	wd.do(t, http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": []any{}}, &v)
	return v
}

// WaitFor polls cond for up to 15 seconds, then fails the test with the
// page.
func (wd *WebDriver) WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out at %s:\n%s", wd.CurrentURL(t), wd.Source(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Screenshot saves the page as a PNG at path, for failures.
func (wd *WebDriver) Screenshot(t testing.TB, path string) {
	var b64 string
	if err := call(http.MethodGet, wd.base+"/screenshot", nil, &b64); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	t.Logf("screenshot of the failure: %s (%v)", path, err)
}

// ScreenshotOnFailure saves the page as a PNG in the system's temporary
// directory (outside t.TempDir, which is removed with the test), named
// graft-NAME-<nanoseconds>.png, once the test has failed. Call it after
// Start: its cleanup runs before the browser is closed.
func (wd *WebDriver) ScreenshotOnFailure(t testing.TB, name string) {
	t.Cleanup(func() {
		if t.Failed() {
			wd.Screenshot(t, filepath.Join(os.TempDir(), fmt.Sprintf("graft-%s-%d.png", name, time.Now().UnixNano())))
		}
	})
}

// Keys of the WebDriver key actions (the W3C spec's code points).
const (
	Tab       = "\uE004"
	Enter     = "\uE007"
	Shift     = "\uE008"
	Space     = "\uE00D"
	Control   = "\uE009"
	ArrowDown = "\uE015"
)

// Keys presses and releases each key in turn, as a person at the keyboard
// does, on whatever element has the focus. A key after Shift or Control is
// pressed with it ("Shift", "Tab" moves back), which is then released.
func (wd *WebDriver) Keys(t testing.TB, keys ...string) {
	t.Helper()
	var acts []map[string]string
	var held string
	for _, k := range keys {
		if k == Shift || k == Control {
			held = k
			acts = append(acts, map[string]string{"type": "keyDown", "value": k})
			continue
		}
		acts = append(acts, map[string]string{"type": "keyDown", "value": k}, map[string]string{"type": "keyUp", "value": k})
		if held != "" {
			acts = append(acts, map[string]string{"type": "keyUp", "value": held})
			held = ""
		}
	}
	wd.do(t, http.MethodPost, "/actions", map[string]any{"actions": []any{
		map[string]any{"type": "key", "id": "keyboard", "actions": acts},
	}}, nil)
	wd.do(t, http.MethodDelete, "/actions", nil, nil)
}

// LogEntry is one line of the page's console.
type LogEntry struct {
	Level   string `json:"level"` // SEVERE, WARNING, INFO, ...
	Message string `json:"message"`
}

// BrowserLog returns what the page logged to its console (errors, CSP
// violations, resources that failed to load) since the last call.
func (wd *WebDriver) BrowserLog(t testing.TB) []LogEntry {
	t.Helper()
	var entries []LogEntry
	wd.do(t, http.MethodPost, "/se/log", map[string]string{"type": "browser"}, &entries)
	return entries
}

// CheckLog fails the test for every error or warning the page logged
// since the last look (a script error, a CSP violation, a resource that
// failed to load), saying when it was looked at.
func (wd *WebDriver) CheckLog(t testing.TB, when string) {
	t.Helper()
	for _, l := range wd.BrowserLog(t) {
		if l.Level == "SEVERE" || l.Level == "WARNING" {
			t.Errorf("%s, the page logged %s: %s", when, l.Level, l.Message)
		}
	}
}
