package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
)

// Plot geometry: a grid of panels, one per failover measure, each a strip
// plot with a column per system.
const (
	plotCols   = 4
	panelW     = 300
	panelH     = 230
	plotHeader = 40
)

var (
	colBG    = color.RGBA{255, 255, 255, 255}
	colInk   = color.RGBA{40, 40, 40, 255}
	colGrid  = color.RGBA{225, 225, 225, 255}
	sysColor = map[string]color.RGBA{
		SysKeepalived:  {214, 112, 30, 255},
		SysVipd:        {40, 100, 200, 255},
		SysVipdArbiter: {30, 150, 70, 255},
	}
	sysShort = map[string]string{SysKeepalived: "KEEPALIVED", SysVipd: "VIPD", SysVipdArbiter: "VIPD+ARB"}
)

// PlotMeasures picks the measures the plot shows: failover times.
func PlotMeasures(ms []*Measure) []*Measure {
	var out []*Measure
	for _, m := range ms {
		if m.Unit == UnitMS && m.Scenario != ScenConfigLoad {
			out = append(out, m)
		}
	}
	return out
}

// PlotSize is the size of the image for n panels.
func PlotSize(n int) (w, h int) {
	rows := max((n+plotCols-1)/plotCols, 1)
	return plotCols * panelW, plotHeader + rows*panelH
}

// Plot draws one panel per measure: every sample a dot (spread sideways so
// equal values stay visible), the median a bar, on a linear millisecond
// axis starting at 0 that is scaled per panel.
func Plot(ms []*Measure, title string) *image.RGBA {
	w, h := PlotSize(len(ms))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{colBG}, image.Point{}, draw.Src)
	drawText(img, 10, 8, title, colInk)
	x := 10
	for _, sys := range Systems {
		fillRect(img, x, 24, 8, 8, sysColor[sys])
		drawText(img, x+12, 25, sysShort[sys], colInk)
		x += 12 + textWidth(sysShort[sys]) + 20
	}
	for i, m := range ms {
		panel(img, (i%plotCols)*panelW, plotHeader+(i/plotCols)*panelH, m)
	}
	return img
}

// WritePNG encodes Plot(ms, title) to w.
func WritePNG(w io.Writer, ms []*Measure, title string) error {
	if err := png.Encode(w, Plot(ms, title)); err != nil {
		return fmt.Errorf("bench: encode plot: %w", err)
	}
	return nil
}

func panel(img *image.RGBA, x0, y0 int, m *Measure) {
	const left, right, top, bottom = 46, 10, 22, 22
	px0, px1 := x0+left, x0+panelW-right
	py0, py1 := y0+top, y0+panelH-bottom // py1 is the zero line
	t := m.Title
	if m.Short != "" {
		t = m.Short
	}
	if len(t) > (panelW-10)/glyphW {
		t = t[:(panelW-10)/glyphW]
	}
	drawText(img, x0+6, y0+6, t, colInk)
	ymax := 0.0
	for _, sys := range Systems {
		for _, v := range m.Values[sys] {
			ymax = math.Max(ymax, v)
		}
	}
	ymax = niceCeil(ymax)
	yOf := func(v float64) int { return py1 - int(math.Round(v/ymax*float64(py1-py0))) }
	for _, f := range []float64{0, 0.5, 1} {
		y := yOf(ymax * f)
		hline(img, px0, px1, y, colGrid)
		lbl := format(UnitMS, ymax*f)
		drawText(img, px0-6-textWidth(lbl), y-3, lbl, colInk)
	}
	vline(img, px0, py0, py1, colInk)
	hline(img, px0, px1, py1, colInk)
	colW := (px1 - px0) / len(Systems)
	for j, sys := range Systems {
		cx := px0 + colW*j + colW/2
		lbl := sysShort[sys]
		drawText(img, cx-textWidth(lbl)/2, py1+6, lbl, colInk)
		vals := m.Values[sys]
		if len(vals) == 0 {
			drawText(img, cx-textWidth("N/A")/2, py1-14, "N/A", colInk)
			continue
		}
		c := sysColor[sys]
		for k, v := range vals {
			dx := (k%5 - 2) * 6 // deterministic spread
			fillRect(img, cx+dx-2, yOf(v)-2, 5, 5, c)
		}
		med := yOf(Summarize(vals).Median)
		for d := range 2 {
			hline(img, cx-22, cx+22, med+d, colInk)
		}
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 10 ms).
func niceCeil(v float64) float64 {
	if v <= 10 {
		return 10
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fillRect(img *image.RGBA, x, y, w, h int, c color.Color) {
	draw.Draw(img, image.Rect(x, y, x+w, y+h), &image.Uniform{c}, image.Point{}, draw.Src)
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}
