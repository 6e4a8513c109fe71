package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
)

// diffRow is one row of the console's side-by-side diff.
type diffRow struct {
	Python, Go string
	// Kind is "same", "changed", "python" (a line only Python has) or
	// "go" (a line only Go has).
	Kind string
}

// maxDiffLines caps the lines of each side in a side-by-side diff.
const maxDiffLines = 400

// responseLines renders a response for the side-by-side diff: the status,
// the headers sorted by name, a blank line, and the body; a JSON body is
// re-indented with its keys sorted so that both sides line up whatever
// order they wrote the keys in.
func responseLines(s Sample) []string {
	lines := []string{fmt.Sprintf("HTTP %d", s.Status)}
	for _, k := range sortedKeys(s.Header) {
		for _, v := range s.Header[k] {
			lines = append(lines, k+": "+v)
		}
	}
	if s.HeaderOmitted > 0 {
		lines = append(lines, fmt.Sprintf("… (%d more header values not kept)", s.HeaderOmitted))
	}
	lines = append(lines, "")
	body := s.Body
	if mt, _, _ := mime.ParseMediaType(s.Header.Get("Content-Type")); mt == "application/json" || strings.HasSuffix(mt, "+json") {
		body = canonicalJSON(body)
	}
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.TrimSuffix(body, "\n")
	if body != "" {
		lines = append(lines, strings.Split(body, "\n")...)
	}
	if n := int64(len(s.Body)); s.Size > n {
		lines = append(lines, fmt.Sprintf("… (%d bytes in all)", s.Size))
	}
	if len(lines) > maxDiffLines {
		lines = append(lines[:maxDiffLines], "… (more lines not shown)")
	}
	return lines
}

// canonicalJSON indents a JSON text with its object keys sorted and its
// numbers as written; text that is not JSON (a truncated body) comes back
// unchanged.
func canonicalJSON(s string) string {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return s
	}
	return b.String()
}

// sideBySide aligns two texts by their longest common subsequence of
// lines: equal lines face each other, and runs of lines that differ are
// paired up as changed.
func sideBySide(py, g []string) []diffRow {
	n, m := len(py), len(g)
	// lcs[i][j] is the length of the LCS of py[i:] and g[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if py[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var rows []diffRow
	var onlyPy, onlyGo []string
	flush := func() {
		for k := 0; k < max(len(onlyPy), len(onlyGo)); k++ {
			row := diffRow{Kind: "changed"}
			switch {
			case k >= len(onlyGo):
				row.Python, row.Kind = onlyPy[k], "python"
			case k >= len(onlyPy):
				row.Go, row.Kind = onlyGo[k], "go"
			default:
				row.Python, row.Go = onlyPy[k], onlyGo[k]
			}
			rows = append(rows, row)
		}
		onlyPy, onlyGo = onlyPy[:0], onlyGo[:0]
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case py[i] == g[j]:
			flush()
			rows = append(rows, diffRow{Python: py[i], Go: g[j], Kind: "same"})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			onlyPy = append(onlyPy, py[i])
			i++
		default:
			onlyGo = append(onlyGo, g[j])
			j++
		}
	}
	onlyPy = append(onlyPy, py[i:]...)
	onlyGo = append(onlyGo, g[j:]...)
	flush()
	return rows
}
