package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// panel is one small chart of a grid: bars, each made of stacked segments.
type panel struct {
	title string
	bars  []bar
}

type bar struct {
	label string
	segs  []float64 // stacked from the bottom; NaN or 0 segments are skipped
}

// chart is a grid of panels sharing a legend (one name per segment index)
// and a unit; ref, when > 0, draws a dashed reference line at that value.
type chart struct {
	title, unit string
	legend      []string
	panels      []panel
	ref         float64
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

const (
	panelW, panelH = 250, 190
	cols           = 4
	marginTop      = 56
)

// svg renders c as a standalone SVG document.
func (c chart) svg() string {
	rows := (len(c.panels) + cols - 1) / cols
	w, h := cols*panelW+20, marginTop+rows*panelH+10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", esc(c.title))
	x := 10
	for i, name := range c.legend {
		fmt.Fprintf(&b, `<rect x="%d" y="32" width="12" height="12" fill="%s"/><text x="%d" y="42">%s</text>`+"\n", x, palette[i%len(palette)], x+16, esc(name))
		x += 24 + 7*len(name)
	}
	for i, p := range c.panels {
		c.panel(&b, p, 10+(i%cols)*panelW, marginTop+(i/cols)*panelH)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// panel draws one panel with its top-left corner at (x0, y0).
func (c chart) panel(b *strings.Builder, p panel, x0, y0 int) {
	const left, bottom, top = 42, 40, 22
	plotW, plotH := panelW-left-12, panelH-bottom-top
	maxV := c.ref
	for _, br := range p.bars {
		maxV = math.Max(maxV, total(br))
	}
	if maxV <= 0 {
		maxV = 1
	}
	step := niceStep(maxV / 4)
	maxV = math.Ceil(maxV/step) * step
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0+left, y0+14, esc(p.title))
	px, py := x0+left, y0+top
	y := func(v float64) float64 { return float64(py+plotH) - v/maxV*float64(plotH) }
	for v := 0.0; v <= maxV+step/2; v += step {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n",
			px, px+plotW, y(v), y(v), px-4, y(v)+4, num(v))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#555" font-size="9">%s</text>`+"\n", x0+2, y0+top-6, esc(c.unit))
	n := len(p.bars)
	if n == 0 {
		return
	}
	slot := float64(plotW) / float64(n)
	bw := math.Min(slot*0.7, 40)
	for i, br := range p.bars {
		bx := float64(px) + slot*float64(i) + (slot-bw)/2
		acc := 0.0
		for k, v := range br.segs {
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
				bx, y(acc+v), bw, y(acc)-y(acc+v), palette[k%len(palette)], esc(br.label), num(v))
			acc += v
		}
		if acc > 0 {
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9">%s</text>`+"\n", bx+bw/2, y(acc)-3, num(acc))
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="end" font-size="10" transform="rotate(-35 %.1f %d)">%s</text>`+"\n",
			bx+bw/2+4, py+plotH+12, bx+bw/2+4, py+plotH+12, esc(br.label))
	}
	if c.ref > 0 {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#000" stroke-dasharray="4 3"/>`+"\n", px, px+plotW, y(c.ref), y(c.ref))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#000"/>`+"\n", px, px+plotW, py+plotH, py+plotH)
}

func total(br bar) float64 {
	t := 0.0
	for _, v := range br.segs {
		if !math.IsNaN(v) && v > 0 {
			t += v
		}
	}
	return t
}

// niceStep rounds s up to 1, 2 or 5 times a power of ten.
func niceStep(s float64) float64 {
	if s <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(s)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= s {
			return m * p
		}
	}
	return 10 * p
}

// num formats a value with about three significant digits.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func esc(s string) string { return html.EscapeString(s) }
