package train

import (
	"bytes"
	"image/color"
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

func plotColor(i int) color.Color {
	return []color.Color{color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}}[i]
}
