package data

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/dokja/dokja/atomicfile"
	"go.yaml.in/yaml/v3"
)

// Report describes a pipeline run: written as report.json and report.html
// in the run folder.
type Report struct {
	Config     string        `json:"config"` // the pipeline, as YAML
	ConfigHash string        `json:"config_hash"`
	Finished   time.Time     `json:"finished"`
	Seconds    float64       `json:"seconds"` // wall time of this invocation
	Workers    int           `json:"workers"`
	Input      IngestStats   `json:"input"`
	Stages     []*StageStats `json:"stages"`
	Output     OutputStats   `json:"output"`
	// Tokens describes the shards of the tokenize stage, if any.
	Tokens *TokenizeResult `json:"tokens,omitempty"`
}

// OutputStats describes the curated documents.
type OutputStats struct {
	Docs  int64    `json:"docs"`
	Bytes int64    `json:"bytes"`
	Files []string `json:"files"`
}

func (r *runner) report(ing *IngestStats, decisions []*Decision, tok *TokenizeResult, wall time.Duration) (*Report, error) {
	text, _ := yaml.Marshal(r.cfg)
	rep := &Report{
		Config: string(text), ConfigHash: r.cfg.Hash(), Finished: time.Now().UTC().Truncate(time.Second),
		Seconds: wall.Seconds(), Workers: r.workers, Input: *ing, Tokens: tok,
	}
	byName := map[string]*StageStats{}
	for _, name := range r.p.names {
		kind := "document"
		if k, _ := lookupKind(name); k.corpus {
			kind = "corpus"
		} else if k.sink {
			kind = "sink"
		}
		st := &StageStats{Name: name, Kind: kind}
		byName[name] = st
		rep.Stages = append(rep.Stages, st)
	}
	for k := range r.p.phases {
		for i := range ing.Shards {
			res, err := readJSON[shardResult](r.work(phaseDir(k), markerName(i)))
			if err != nil {
				return nil, err
			}
			for _, name := range slices.Sorted(maps.Keys(res.Stages)) {
				if byName[name] == nil { // a stage added by hand to a built pipeline
					byName[name] = &StageStats{Name: name, Kind: res.Stages[name].Kind}
					rep.Stages = append(rep.Stages, byName[name])
				}
				byName[name].merge(res.Stages[name], r.cfg.Samples)
			}
			if k == len(r.p.phases)-1 {
				rep.Output.Docs += res.Docs
			}
		}
	}
	for k, dc := range decisions {
		st := byName[dc.Stage]
		st.Groups, st.Largest = dc.Groups, dc.Largest
		clusters, err := r.sampleClusters(k, dc.Samples)
		if err != nil {
			return nil, err
		}
		st.Clusters = clusters
	}
	if len(rep.Stages) > 0 {
		// The output is what left the last stage before the sink.
		for _, st := range slices.Backward(rep.Stages) {
			if st.Kind != "sink" {
				rep.Output.Bytes = st.BytesOut
				break
			}
		}
	}
	if tok != nil {
		st := byName["tokenize"]
		st.In = tok.Train.Documents + tok.Val.Documents
		st.Out = st.In
		st.BytesIn, st.BytesOut = tok.Bytes, tok.Bytes
		st.Seconds = tok.EncodeTime.Seconds()
		st.Found = map[string]int64{"train tokens": tok.Train.Tokens, "val tokens": tok.Val.Tokens}
	}
	files, err := OutputFiles(r.out)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		rel, _ := filepath.Rel(r.out, f)
		rep.Output.Files = append(rep.Output.Files, rel)
	}
	return rep, nil
}

// sampleClusters finds the texts of the sample clusters of phase k's
// corpus stage in the documents that reached it.
func (r *runner) sampleClusters(k int, groups [][]uint64) ([][]Sample, error) {
	want := map[uint64]*Sample{}
	shardsNeeded := map[int]bool{}
	for _, g := range groups {
		for _, o := range g {
			want[o] = &Sample{Order: o}
			shardsNeeded[int(o>>32)] = true
		}
	}
	for _, i := range slices.Sorted(maps.Keys(shardsNeeded)) {
		err := readDocs(r.work(phaseDir(k), shardName(i)), func(d *Document) error {
			if s := want[d.Order]; s != nil {
				s.ID, s.Text = d.ID, clip(d.Text)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var out [][]Sample
	for _, g := range groups {
		var c []Sample
		for j, o := range g {
			s := *want[o]
			s.Detail = "dropped"
			if j == 0 {
				s.Detail = "kept"
			}
			c = append(c, s)
		}
		out = append(out, c)
	}
	return out, nil
}

// Write saves report.json and report.html in dir.
func (rep *Report) Write(dir string) error {
	if err := atomicfile.WriteJSON(filepath.Join(dir, "report.json"), rep); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "report.html"), rep.WriteHTML)
}

// bar is one row of a horizontal bar chart.
type bar struct {
	Label string
	Value int64
	Width float64 // percent of the chart
	Note  string
}

func bars(m map[string]int64, note func(string, int64) string) []bar {
	var out []bar
	var top int64
	for k, v := range m {
		out = append(out, bar{Label: k, Value: v})
		top = max(top, v)
	}
	slices.SortFunc(out, func(a, b bar) int {
		return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.Label, b.Label))
	})
	for i := range out {
		if top > 0 {
			out[i].Width = 100 * float64(out[i].Value) / float64(top)
		}
		if note != nil {
			out[i].Note = note(out[i].Label, out[i].Value)
		}
	}
	return out
}

type stageView struct {
	*StageStats
	KeptPct, DroppedPct, ModifiedPct float64
	Removed                          []bar
	Found                            []bar
	SampleKeys                       []string
	MBps                             float64
}

// WriteHTML writes the report as one self-contained HTML page.
func (rep *Report) WriteHTML(w io.Writer) error {
	var views []stageView
	for _, st := range rep.Stages {
		v := stageView{StageStats: st}
		if st.In > 0 {
			v.KeptPct = 100 * float64(st.Out-st.Modified) / float64(st.In)
			v.ModifiedPct = 100 * float64(st.Modified) / float64(st.In)
			v.DroppedPct = 100 - v.KeptPct - v.ModifiedPct
		}
		if st.Seconds > 0 {
			v.MBps = float64(st.BytesIn) / 1e6 / st.Seconds
		}
		v.Removed = bars(st.Dropped, func(_ string, n int64) string {
			return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(max(st.In, 1)))
		})
		v.Found = bars(st.Found, nil)
		v.SampleKeys = slices.Sorted(maps.Keys(st.Samples))
		views = append(views, v)
	}
	return reportTmpl.Execute(w, map[string]any{"R": rep, "Stages": views})
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"sub": func(a, b int64) int64 { return a - b },
	"mb":  func(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/1e6) },
	"pct": func(a, b int64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dokja data report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}
.flow{display:flex;height:1.1em;width:420px;background:#eee}.k{background:#4a9}.m{background:#e9b949}.d{background:#d9534f}
.bar{background:#6a8fd1;height:.9em;display:inline-block;vertical-align:middle}
.chart td{border:none;padding:.1em .5em}.chart td:nth-child(2){width:320px;text-align:left}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.4em;margin:.2em 0;max-height:12em;overflow:auto}
details{margin:.3em 0}summary{cursor:pointer}.muted{color:#777}
</style></head><body>
<h1>Data pipeline report</h1>
<p>Finished {{.R.Finished.Format "2006-01-02 15:04:05 UTC"}} in {{printf "%.1f" .R.Seconds}} s on {{.R.Workers}} workers; config {{.R.ConfigHash}}.</p>
<table>
<tr><th></th><th>documents</th><th>text</th></tr>
<tr><td>read from {{len .R.Input.Files}} files</td><td>{{.R.Input.Docs}}</td><td>{{mb .R.Input.Bytes}}</td></tr>
<tr><td>bad input records skipped</td><td>{{.R.Input.Bad}}</td><td></td></tr>
<tr><td>kept</td><td>{{.R.Output.Docs}} ({{pct .R.Output.Docs .R.Input.Docs}})</td><td>{{mb .R.Output.Bytes}} ({{pct .R.Output.Bytes .R.Input.Bytes}})</td></tr>
{{with .R.Tokens}}<tr><td>tokens (train / val)</td><td colspan="2">{{.Train.Tokens}} / {{.Val.Tokens}}</td></tr>{{end}}
</table>
{{with .R.Input.BadList}}<details><summary>bad input records (first {{len .}})</summary><pre>{{range .}}{{.}}
{{end}}</pre></details>{{end}}

<h2>Stages</h2>
<p><span class="flow" style="display:inline-flex;width:60px"><span class="k" style="width:100%"></span></span> kept unchanged
<span class="flow" style="display:inline-flex;width:60px"><span class="m" style="width:100%"></span></span> modified
<span class="flow" style="display:inline-flex;width:60px"><span class="d" style="width:100%"></span></span> removed</p>
<table>
<tr><th>stage</th><th>in</th><th>out</th><th>modified</th><th>removed</th><th></th><th>MB/s</th></tr>
{{range .Stages}}<tr><td><a href="#{{.Name}}">{{.Name}}</a></td><td>{{.In}}</td><td>{{.Out}}</td><td>{{.Modified}}</td><td>{{pct (sub .In .Out) .In}}</td>
<td><div class="flow"><span class="k" style="width:{{.KeptPct}}%"></span><span class="m" style="width:{{.ModifiedPct}}%"></span><span class="d" style="width:{{.DroppedPct}}%"></span></div></td>
<td>{{if .MBps}}{{printf "%.1f" .MBps}}{{end}}</td></tr>
{{end}}</table>

{{range .Stages}}<h3 id="{{.Name}}">{{.Name}} <span class="muted">({{.Kind}})</span></h3>
<p>{{.In}} in, {{.Out}} out, {{.Modified}} modified; {{mb .BytesIn}} in, {{mb .BytesOut}} out; {{printf "%.1f" .Seconds}} s of work.
{{if .Groups}} {{.Groups}} clusters of duplicates, the largest of {{.Largest}}.{{end}}</p>
{{with .Removed}}<p>Removed, by reason:</p><table class="chart">{{range .}}<tr><td>{{.Label}}</td><td><span class="bar" style="width:{{.Width}}%"></span></td><td>{{.Value}}</td><td>{{.Note}}</td></tr>{{end}}</table>{{end}}
{{with .Found}}<p>Found:</p><table class="chart">{{range .}}<tr><td>{{.Label}}</td><td><span class="bar" style="width:{{.Width}}%"></span></td><td>{{.Value}}</td></tr>{{end}}</table>{{end}}
{{$st := .}}{{range .SampleKeys}}<details><summary>samples: {{.}}</summary>
{{range index $st.Samples .}}<p class="muted">{{.ID}}{{with .Detail}}: {{.}}{{end}}</p>{{with .Before}}<pre>{{.}}</pre><p class="muted">became</p>{{end}}<pre>{{.Text}}</pre>{{end}}
</details>{{end}}
{{range $i, $c := .Clusters}}<details><summary>cluster {{$i}} ({{len $c}} shown)</summary>{{range $c}}<p class="muted">{{.ID}}: {{.Detail}}</p><pre>{{.Text}}</pre>{{end}}</details>{{end}}
{{end}}
<h2>Config</h2><pre>{{.R.Config}}</pre>
</body></html>
`))
