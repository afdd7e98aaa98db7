package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"github.com/dokja/dokja/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plot draws loss.png: the training loss per step (raw and smoothed) and
// the validation loss at each evaluation.
func (r *runner) plot() error {
	return PlotLoss(filepath.Join(r.cfg.Out, "loss.png"), r.cfg.Out, r.history)
}

// PlotLoss writes a loss-curve PNG of the metrics to path.
func PlotLoss(path, title string, history []Metric) error {
	p := plot.New()
	p.Title.Text = "loss: " + title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "cross-entropy (nats/token)"
	var train, smooth, val plotter.XYs
	ema := 0.0
	for _, m := range history {
		switch {
		case m.ValLoss > 0:
			val = append(val, plotter.XY{X: float64(m.Step), Y: m.ValLoss})
		case m.Loss > 0:
			if len(train) == 0 {
				ema = m.Loss
			}
			ema = 0.9*ema + 0.1*m.Loss
			train = append(train, plotter.XY{X: float64(m.Step), Y: m.Loss})
			smooth = append(smooth, plotter.XY{X: float64(m.Step), Y: ema})
		}
	}
	if len(train) > 0 {
		l, err := plotter.NewLine(train)
		if err != nil {
			return err
		}
		l.Color = plotter.DefaultLineStyle.Color
		l.Width = vg.Points(0.5)
		l.Dashes = nil
		s, err := plotter.NewLine(smooth)
		if err != nil {
			return err
		}
		s.Width = vg.Points(1.5)
		s.Color = plotColor(0)
		p.Add(l, s)
		p.Legend.Add("train", l)
		p.Legend.Add("train (EMA 0.9)", s)
	}
	if len(val) > 0 {
		v, pts, err := plotter.NewLinePoints(val)
		if err != nil {
			return err
		}
		v.Color, pts.Color = plotColor(1), plotColor(1)
		p.Add(v, pts)
		p.Legend.Add("validation", v)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return savePNG(p, path)
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

func plotColor(i int) color.Color { return palette[i%len(palette)] }

// RunHistory is one run's metrics under a label, for PlotRuns.
type RunHistory struct {
	Label   string
	Metrics []Metric
}

// ReadMetrics reads a run folder's metrics.jsonl.
func ReadMetrics(runDir string) ([]Metric, error) {
	path := filepath.Join(runDir, "metrics.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Metric
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var m Metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// PlotRuns writes one PNG comparing runs by tokens seen: each run's
// validation loss (points joined) and smoothed training loss (thin), so
// that runs of different batch sizes line up.
func PlotRuns(path, title string, runs []RunHistory) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "training tokens"
	p.Y.Label.Text = "cross-entropy (nats/token)"
	for i, r := range runs {
		var train, val plotter.XYs
		ema := 0.0
		for _, m := range r.Metrics {
			x := float64(m.Tokens)
			switch {
			case m.ValLoss > 0:
				val = append(val, plotter.XY{X: x, Y: m.ValLoss})
			case m.Loss > 0:
				if len(train) == 0 {
					ema = m.Loss
				}
				ema = 0.9*ema + 0.1*m.Loss
				train = append(train, plotter.XY{X: x, Y: ema})
			}
		}
		if len(train) > 0 {
			l, err := plotter.NewLine(train)
			if err != nil {
				return err
			}
			l.Color, l.Width = plotColor(i), vg.Points(0.6)
			p.Add(l)
			p.Legend.Add(r.Label+" train (EMA)", l)
		}
		if len(val) > 0 {
			l, pts, err := plotter.NewLinePoints(val)
			if err != nil {
				return err
			}
			l.Color, pts.Color, l.Width = plotColor(i), plotColor(i), vg.Points(1.8)
			p.Add(l, pts)
			p.Legend.Add(r.Label+" validation", l)
		}
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return savePNG(p, path)
}

func savePNG(p *plot.Plot, path string) error {
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}
