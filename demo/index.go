package demo

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// ask streams a completion of prompt and echoes it to w as it arrives.
func ask(ctx context.Context, base, name, prompt string, maxTokens int, w io.Writer) (Sample, error) {
	c := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey("demo"), option.WithMaxRetries(0))
	fmt.Fprintf(w, "\n  > %s", prompt)
	start := time.Now()
	// logprobs make every token an event, so the count is exact.
	st := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{
		Model: openai.CompletionNewParamsModel(name), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens: openai.Int(int64(maxTokens)), Temperature: openai.Float(0.7), TopP: openai.Float(0.95),
		Seed: openai.Int(1), Logprobs: openai.Int(0),
	})
	s := Sample{Prompt: prompt}
	var first time.Duration
	for st.Next() {
		ch := st.Current()
		if len(ch.Choices) == 0 {
			continue
		}
		if first == 0 {
			first = time.Since(start)
		}
		s.Answer += ch.Choices[0].Text
		s.Tokens += len(ch.Choices[0].Logprobs.Tokens)
		fmt.Fprint(w, ch.Choices[0].Text)
	}
	fmt.Fprintln(w)
	if err := st.Err(); err != nil {
		return s, fmt.Errorf("prompt %q: %w", prompt, err)
	}
	s.TTFTMillis = float64(first.Microseconds()) / 1000
	if d := time.Since(start) - first; d > 0 && s.Tokens > 1 {
		s.TokensPerS = float64(s.Tokens-1) / d.Seconds()
	}
	return s, nil
}

func writeIndex(w io.Writer, s *Summary) error {
	return indexTmpl.Execute(w, map[string]any{"S": s, "EvalKeys": slices.Sorted(maps.Keys(s.Eval))})
}

var indexTmpl = template.Must(template.New("index").Funcs(template.FuncMap{
	"mul100": func(f float64) float64 { return 100 * f },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dokja demo</title>
<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}img{max-width:100%}</style></head><body>
<h1>Dokja demo: the whole stack on one machine</h1>
<p>Corpus: {{range .S.Corpus}}<code>{{.}}</code> {{end}}. Every number below comes from this run.</p>

<h2>1. Data curation</h2>
<p>Read {{.S.DocsRead}} documents ({{printf "%.1f" .S.MBRead}} MB), kept {{.S.DocsKept}} ({{printf "%.1f" .S.MBKept}} MB)
after normalisation, language identification, quality filters, deduplication and PII redaction, in {{printf "%.1f" .S.DataSeconds}} s.
<a href="data/report.html">Data report</a> (<a href="data/report.json">JSON</a>).</p>

<h2>2. Tokenizer</h2>
{{with .S.Tokenizer}}<p>Byte-level BPE, {{.VocabSize}} tokens, trained on {{.TrainDocs}} documents in {{printf "%.1f" .TrainSeconds}} s
(<a href="tokenizer/tokenizer.json">tokenizer.json</a>, <a href="tokenizer/report.json">report</a>).
{{if .KoreanSavings}}On held-out Korean pages it needs {{printf "%.1f" (mul100 .KoreanSavings)}}% fewer tokens than o200k.{{end}}</p>
<table><tr><th>text</th><th>tokenizer</th><th>tokens</th><th>chars/token</th></tr>
{{range .Rows}}<tr><td>{{.Part}}</td><td>{{.Tokenizer}}</td><td>{{.Tokens}}</td><td>{{printf "%.2f" .CharsPerToken}}</td></tr>{{end}}</table>{{end}}

<h2>3. Pretraining</h2>
<p>{{.S.TrainTokens}} training and {{.S.ValTokens}} validation tokens (<a href="tokens/manifest.json">shards</a>).
A {{.S.Params}}-parameter Llama trained {{.S.Steps}} steps on {{.S.TokensSeen}} tokens ({{printf "%.0f" .S.TrainTokensPerSecond}} tokens/s):
loss {{printf "%.3f" .S.FirstLoss}} → {{printf "%.3f" .S.LastLoss}}, validation loss {{printf "%.3f" .S.ValLoss}}.
<a href="train/metrics.jsonl">Metrics</a>, <a href="train/model/config.json">model</a>.</p>
<p><img src="train/loss.png" alt="loss curve"></p>

<h2>4. Evaluation</h2>
<table><tr><th>task and metric</th><th>value</th></tr>
{{range .EvalKeys}}<tr><td>{{.}}</td><td>{{printf "%.4f" (index $.S.Eval .)}}</td></tr>{{end}}</table>
<p><a href="eval/report.html">Evaluation report</a> (<a href="eval/report.json">JSON</a>).</p>

<h2>5. Serving</h2>
<p>The model behind Dokja's OpenAI-compatible server, asked through the official OpenAI client (streamed completions;
<a href="serve/samples.json">samples</a>):</p>
{{range .S.Samples}}<pre><b>{{.Prompt}}</b>{{.Answer}}</pre><p>{{.Tokens}} tokens, first after {{printf "%.0f" .TTFTMillis}} ms, {{printf "%.1f" .TokensPerS}} tokens/s</p>{{end}}
{{with .S.Search}}
<h2>6. Search</h2>
<p>The curated documents, cut into {{.Chunks}} overlapping chunks of {{.Docs}} documents and indexed for BM25 (Korean words
match their other forms by syllable pairs; <a href="index/searches.json">searches</a>):</p>
<table><tr><th>query</th><th>best passage</th></tr>
{{range .Searches}}<tr><td>{{.Query}}</td><td><code>{{.Doc}}</code> {{.Text}}</td></tr>{{end}}</table>
{{end}}
{{with .S.Agent}}
<h2>7. An agent with tools</h2>
<p>{{.Model}}, served over the OpenAI API, with Dokja's MCP server (<code>redact_pii</code>, <code>tokenizer_stats</code>, <code>search</code>) and a
calculator as tools; it must call one first (its arguments held to the tool's JSON schema), gets the result, and answers
(<a href="agent/run.json">run</a>; {{.Stop}} after {{.Steps}} steps).</p>
<pre><b>user:</b> {{.Prompt}}
{{range .Calls}}<b>→ {{.Name}}</b>({{.Arguments}})
<b>←</b> {{.Result}}
{{end}}<b>assistant:</b> {{.Answer}}</pre>
{{end}}
{{with .S.Encoder}}
<h2>8. An encoder: pretraining, embeddings, retrieval</h2>
<p>A {{.Params}}-weight ModernBERT trained {{.MLMSteps}} steps on masked tokens of the same shards (loss {{printf "%.3f" .MLMFirstLoss}} →
{{printf "%.3f" .MLMLastLoss}}, validation {{printf "%.3f" .MLMValLoss}}; <a href="encoder/mlm/loss.png">curve</a>), then fine-tuned for
embeddings with in-batch negatives on {{.Pairs}} title–page pairs from help pages outside the task ({{.FineTuneSteps}} steps, held-out loss
{{printf "%.3f" .ValLossBefore}} → {{printf "%.3f" .ValLossAfter}}; <a href="encoder/embed/loss.png">curve</a>).
Retrieval over {{.Pages}} help pages it never saw and their English counterparts, {{.Queries}} Korean titles as queries:</p>
<table><tr><th>search</th><th>judged by</th><th>nDCG@10</th><th>recall@100</th></tr>
{{range .Rows}}<tr><td>{{.Search}}</td><td>{{.Judged}}</td><td>{{printf "%.3f" .NDCG10}}</td><td>{{printf "%.3f" .Recall100}}</td></tr>{{end}}</table>
{{end}}
{{with .S.Yours}}
<h2>9. Your model</h2>
<p><code>{{.Path}}</code>: {{.Architecture}}, {{printf "%.3g" .Params}} parameters ({{printf "%.3g" .ActiveParams}} per token), context {{.Context}}.
Evaluated on the same held-out pages (bits per byte compare across tokenizers) and served the same prompts.</p>
<table><tr><th>task and metric</th><th>your model</th><th>demo model</th></tr>
{{range $k, $v := .Eval}}<tr><td>{{$k}}</td><td>{{printf "%.4f" $v}}</td><td>{{printf "%.4f" (index $.S.Eval $k)}}</td></tr>{{end}}</table>
<p><a href="yours/eval/report.html">Evaluation report</a>, <a href="yours/serve/samples.json">samples</a>.</p>
{{range .Samples}}<pre><b>{{.Prompt}}</b>{{.Answer}}</pre><p>{{.Tokens}} tokens, first after {{printf "%.0f" .TTFTMillis}} ms, {{printf "%.1f" .TokensPerS}} tokens/s</p>{{end}}
{{end}}
</body></html>
`))
