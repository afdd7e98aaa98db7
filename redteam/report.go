package redteam

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"
)

// Finding is a detector's verdict on one reply.
type Finding struct {
	// Fail is set when the attack worked.
	Fail bool `json:"fail"`
	// Evidence says why: the phrase, pattern or datum found, or what was
	// looked for and not found.
	Evidence string `json:"evidence"`
}

// Attempt is one sample of a probe.
type Attempt struct {
	Reply string `json:"reply"`
	// Error is set when generation failed; there are then no findings.
	Error    string             `json:"error,omitempty"`
	Findings map[string]Finding `json:"findings,omitempty"`
}

// Passed reports whether the attempt was generated and every detector
// passed it.
func (a Attempt) Passed() bool {
	if a.Error != "" {
		return false
	}
	for _, f := range a.Findings {
		if f.Fail {
			return false
		}
	}
	return true
}

// ProbeResult holds a probe's samples.
type ProbeResult struct {
	ID        string    `json:"id"`
	Category  string    `json:"category"`
	Lang      string    `json:"lang"`
	Detectors []string  `json:"detectors"`
	Attempts  []Attempt `json:"attempts"`
	// Passed counts attempts that every detector passed; Errors counts
	// attempts that could not be generated.
	Passed int `json:"passed"`
	Errors int `json:"errors"`
}

// Rate is a pass rate: Passed of Total, and their ratio (0 when Total is 0).
type Rate struct {
	Passed int     `json:"passed"`
	Total  int     `json:"total"`
	Rate   float64 `json:"rate"`
}

func (r *Rate) add(pass bool) {
	r.Total++
	if pass {
		r.Passed++
	}
	r.Rate = float64(r.Passed) / float64(r.Total)
}

// Transcript is one failing verdict: the conversation, the reply, and the
// detector with its evidence.
type Transcript struct {
	ProbeID  string    `json:"probe_id"`
	Category string    `json:"category"`
	Lang     string    `json:"lang"`
	Attempt  int       `json:"attempt"`
	Messages []Message `json:"messages"`
	Reply    string    `json:"reply"`
	Detector string    `json:"detector"`
	Evidence string    `json:"evidence"`
}

// Report is the outcome of a Run.
//
// ByProbe and ByCategory count attempts (an attempt passes when all its
// probe's detectors pass it); ByDetector counts verdicts (one per attempt
// and detector). Attempts that could not be generated are left out of all
// three and counted in Errors.
type Report struct {
	Model      string          `json:"model"`
	Created    time.Time       `json:"created"`
	Probes     []ProbeResult   `json:"probes"`
	ByProbe    map[string]Rate `json:"by_probe"`
	ByCategory map[string]Rate `json:"by_category"`
	ByLang     map[string]Rate `json:"by_lang"`
	ByDetector map[string]Rate `json:"by_detector"`
	// Overall counts attempts over all probes.
	Overall  Rate         `json:"overall"`
	Errors   int          `json:"errors"`
	Failures []Transcript `json:"failures"`
}

func newReport(model string, probes []Probe, results []ProbeResult) *Report {
	r := &Report{Model: model, Created: time.Now().UTC(), Probes: results,
		ByProbe: map[string]Rate{}, ByCategory: map[string]Rate{}, ByLang: map[string]Rate{}, ByDetector: map[string]Rate{},
		Failures: []Transcript{}}
	for i := range results {
		pr, p := &results[i], probes[i]
		rp, rc, rl := r.ByProbe[p.ID], r.ByCategory[p.Category], r.ByLang[p.Lang]
		for k, a := range pr.Attempts {
			if a.Error != "" {
				pr.Errors++
				continue
			}
			pass := a.Passed()
			if pass {
				pr.Passed++
			}
			rp.add(pass)
			rc.add(pass)
			rl.add(pass)
			r.Overall.add(pass)
			for _, d := range p.Detectors {
				f := a.Findings[d]
				rd := r.ByDetector[d]
				rd.add(!f.Fail)
				r.ByDetector[d] = rd
				if f.Fail {
					r.Failures = append(r.Failures, Transcript{ProbeID: p.ID, Category: p.Category, Lang: p.Lang,
						Attempt: k, Messages: p.Messages, Reply: a.Reply, Detector: d, Evidence: f.Evidence})
				}
			}
		}
		r.ByProbe[p.ID], r.ByCategory[p.Category], r.ByLang[p.Lang] = rp, rc, rl
		r.Errors += pr.Errors
	}
	return r
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("redteam: writing the JSON report: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("redteam: reading the JSON report: %w", err)
	}
	return &r, nil
}

type bar struct {
	Name string
	Rate
	Pct float64
}

func bars(m map[string]Rate, order []string) []bar {
	var keys []string
	for _, k := range order {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	var out []bar
	for _, k := range append(keys, rest...) {
		out = append(out, bar{Name: k, Rate: m[k], Pct: 100 * m[k].Rate})
	}
	return out
}

var htmlReport = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Red-team report: {{.Model}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left}
.bar{width:24em;background:#f2d4d4;height:1em;border-radius:2px}
.bar>div{height:100%;background:#3a8a4a;border-radius:2px}
details{margin:.4em 0;border:1px solid #ddd;padding:.3em .6em}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.4em;margin:.2em 0}
.role{font-weight:bold;color:#555}.ev{color:#a00}
</style></head><body>
<h1>Red-team report: {{.Model}}</h1>
<p>{{.Created.Format "2006-01-02 15:04 UTC"}} · overall pass rate {{printf "%.1f" .OverallPct}}% ({{.Overall.Passed}}/{{.Overall.Total}} attempts){{if .Errors}} · {{.Errors}} failed generations{{end}}</p>
{{define "bars"}}<table>{{range .}}<tr><td>{{.Name}}</td><td><div class="bar" title="{{printf "%.1f" .Pct}}%"><div style="width:{{printf "%.1f" .Pct}}%"></div></div></td><td>{{printf "%.1f" .Pct}}%</td><td>{{.Passed}}/{{.Total}}</td></tr>{{end}}</table>{{end}}
<h2>Pass rate by category</h2>{{template "bars" .Categories}}
<h2>Pass rate by detector</h2>{{template "bars" .Detectors}}
<h2>Pass rate by language</h2>{{template "bars" .Langs}}
<h2>Failing transcripts ({{len .Failures}})</h2>
{{range .Failures}}<details><summary>{{.ProbeID}} · attempt {{.Attempt}} · {{.Detector}}: <span class="ev">{{.Evidence}}</span></summary>
{{range .Messages}}<div><span class="role">{{.Role}}</span><pre>{{.Content}}</pre></div>{{end}}
<div><span class="role">reply</span><pre>{{.Reply}}</pre></div></details>
{{else}}<p>None.</p>{{end}}
<h2>Probes</h2><table><tr><th>probe</th><th>category</th><th>lang</th><th>passed</th><th>errors</th></tr>
{{range .Probes}}<tr><td>{{.ID}}</td><td>{{.Category}}</td><td>{{.Lang}}</td><td>{{.Passed}}/{{len .Attempts}}</td><td>{{.Errors}}</td></tr>{{end}}</table>
</body></html>
`))

// WriteHTML writes the report as one self-contained HTML page: bars of
// the pass rate per category, detector and language, and every failing
// transcript in a <details> element.
func (r *Report) WriteHTML(w io.Writer) error {
	data := struct {
		*Report
		OverallPct                   float64
		Categories, Detectors, Langs []bar
	}{r, 100 * r.Overall.Rate, bars(r.ByCategory, Categories()), bars(r.ByDetector, detectorOrder), bars(r.ByLang, []string{"ko", "en"})}
	if err := htmlReport.Execute(w, data); err != nil {
		return fmt.Errorf("redteam: writing the HTML report: %w", err)
	}
	return nil
}
