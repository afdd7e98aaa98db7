package eval

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// ReadReport reads results written by Report.WriteJSON.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Tasks) == 0 || r.ConfigHash == "" {
		return nil, fmt.Errorf("%s: not dokja eval results (no tasks or config_hash)", path)
	}
	return &r, nil
}

// Run is a report under a label, for Compare.
type Run struct {
	Label  string
	Report *Report
}

// compareRow is one task and metric across runs.
type compareRow struct {
	Task, Metric string
	Chance       *float64
	Values       []*Value // per run; nil where the run lacks it
}

func compareRows(runs []Run) []compareRow {
	var keys []string
	rows := map[string]*compareRow{}
	for i, r := range runs {
		for _, t := range r.Report.Tasks {
			for _, m := range t.Metrics {
				k := t.Task + "\x00" + m.Name()
				row, ok := rows[k]
				if !ok {
					row = &compareRow{Task: t.Task, Metric: m.Name(), Values: make([]*Value, len(runs))}
					rows[k] = row
					keys = append(keys, k)
				}
				m := m
				row.Values[i] = &m
				if row.Chance == nil {
					row.Chance = m.Chance
				}
			}
		}
	}
	sort.Strings(keys)
	out := make([]compareRow, len(keys))
	for i, k := range keys {
		out[i] = *rows[k]
	}
	return out
}

// Compare writes runs side by side: a row per task and metric, a column
// per run (value ± standard error), then the chance level, and each run's
// config hash and model below.
func Compare(w io.Writer, runs []Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"task", "metric"}
	for _, r := range runs {
		head = append(head, r.Label)
	}
	fmt.Fprintln(tw, strings.Join(append(head, "chance"), "\t"))
	for _, row := range compareRows(runs) {
		cells := []string{row.Task, row.Metric}
		for _, v := range row.Values {
			switch {
			case v == nil:
				cells = append(cells, "-")
			case v.Stderr != nil:
				cells = append(cells, num(&v.Value)+" ± "+num(v.Stderr))
			default:
				cells = append(cells, num(&v.Value))
			}
		}
		fmt.Fprintln(tw, strings.Join(append(cells, num(row.Chance)), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		if _, err := fmt.Fprintf(w, "%s: config %s, %s, split %s, limit %d, %d-shot\n", r.Label, short(r.Report.ConfigHash),
			r.Report.model(), r.Report.Config.Split, r.Report.Config.Limit, r.Report.Config.NumFewshot); err != nil {
			return err
		}
	}
	return nil
}

func short(h string) string { return h[:min(12, len(h))] }

// WriteHTML writes a self-contained page for one or more runs: a bar
// chart per task and metric (each run's value, its standard error, the
// chance level as a line), each run's configuration, and the first
// per-item records of every task so that a reader can see what was scored.
func WriteHTML(w io.Writer, runs []Run) error {
	type bar struct {
		Label, Value, Err      string
		X, Width, ErrLo, ErrHi float64
		Color                  string
	}
	type chart struct {
		Task, Metric string
		Bars         []bar
		ChanceX      float64
		Chance       string
		Height       int
	}
	palette := []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}
	const width = 420.0
	var charts []chart
	for _, row := range compareRows(runs) {
		scale := 1.0
		for _, v := range row.Values {
			if v != nil {
				scale = max(scale, v.Value*1.1)
			}
		}
		c := chart{Task: row.Task, Metric: row.Metric, Height: 22*len(runs) + 10}
		if row.Chance != nil {
			c.ChanceX, c.Chance = 120+width**row.Chance/scale, num(row.Chance)
		}
		for i, v := range row.Values {
			b := bar{Label: runs[i].Label, Value: "-", Color: palette[i%len(palette)]}
			if v != nil {
				b.Value = num(&v.Value)
				b.Width = width * max(0, v.Value) / scale
				if v.Stderr != nil {
					b.Err = "± " + num(v.Stderr)
					b.ErrLo = 120 + width*max(0, v.Value-*v.Stderr)/scale
					b.ErrHi = 120 + width*(v.Value+*v.Stderr)/scale
				}
			}
			b.X = float64(22*i + 4)
			c.Bars = append(c.Bars, b)
		}
		charts = append(charts, c)
	}
	type sample struct {
		Task       string
		Generation bool
		Records    []Record
	}
	type runView struct {
		Label, Hash, Model, Created, Backend string
		Config                               Config
		Samples                              []sample
	}
	var views []runView
	for _, r := range runs {
		v := runView{Label: r.Label, Hash: r.Report.ConfigHash, Model: r.Report.model(), Created: r.Report.Created, Backend: r.Report.Config.Backend, Config: r.Report.Config}
		for _, t := range r.Report.Tasks {
			v.Samples = append(v.Samples, sample{t.Task, t.OutputType == GenerateUntil, t.Records[:min(10, len(t.Records))]})
		}
		views = append(views, v)
	}
	return reportPage.Execute(w, map[string]any{"Charts": charts, "Runs": views, "Width": width + 220})
}

var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"ll": func(v []float64) string {
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprintf("%.3f", x)
		}
		return strings.Join(parts, ", ")
	},
	"deref": func(p *int) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dokja eval</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .4rem;text-align:left}
h2{margin-top:2rem}.chart{margin:.5rem 0 1rem}</style></head><body>
<h1>Evaluation results</h1>
<p>Bars are each run's value with its standard error; the dashed line is the chance level.</p>
{{range .Charts}}<div class="chart"><b>{{.Task}}</b> · {{.Metric}}{{if .Chance}} (chance {{.Chance}}){{end}}<br>
<svg width="{{$.Width}}" height="{{.Height}}" role="img" aria-label="{{.Task}} {{.Metric}}">
{{range .Bars}}<text x="0" y="{{.X}}" dy="14" font-size="12">{{.Label}}</text>
<rect x="120" y="{{.X}}" width="{{.Width}}" height="18" fill="{{.Color}}"></rect>
{{if .Err}}<line x1="{{.ErrLo}}" x2="{{.ErrHi}}" y1="{{.X}}" y2="{{.X}}" transform="translate(0,9)" stroke="#000"></line>{{end}}
<text x="{{.Width}}" dx="126" y="{{.X}}" dy="14" font-size="12">{{.Value}} {{.Err}}</text>{{end}}
{{if .Chance}}<line x1="{{.ChanceX}}" x2="{{.ChanceX}}" y1="0" y2="{{.Height}}" stroke="#555" stroke-dasharray="4 3"></line>{{end}}
</svg></div>{{end}}
{{range .Runs}}<h2>{{.Label}}</h2>
<p>config {{.Hash}} · {{.Backend}} · {{.Model}} · split {{.Config.Split}} · limit {{.Config.Limit}} · {{.Config.NumFewshot}}-shot · seed {{.Config.Seed}} · {{.Created}}</p>
{{range .Samples}}<h3>{{.Task}}: first items</h3>
{{if .Generation}}<table><tr><th>id</th><th>references</th><th>reply</th><th>answers (filter: answer)</th></tr>
{{range .Records}}<tr><td>{{.ID}}</td><td>{{range .References}}<pre>{{.}}</pre>{{end}}</td><td><pre>{{if .Generation}}{{.Generation}}{{end}}</pre></td><td>{{range $k, $v := .Filtered}}{{$k}}: {{$v}}<br>{{end}}</td></tr>{{end}}
</table>{{else}}<table><tr><th>id</th><th>target</th><th>prediction</th><th>log-likelihoods</th><th>tokens</th></tr>
{{range .Records}}<tr><td>{{.ID}}</td><td>{{deref .Target}}</td><td>{{deref .Pred}}</td><td>{{ll .LogLikelihoods}}{{if .LogLikelihood}}{{.LogLikelihood}}{{end}}</td><td>{{.Tokens}}</td></tr>{{end}}
</table>{{end}}{{end}}{{end}}
</body></html>
`))
