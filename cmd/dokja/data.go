package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dokja/dokja/data"
	"github.com/dokja/dokja/eval"
	"github.com/dokja/dokja/pii"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/quality"
)

func init() {
	lateCommands = append(lateCommands, command{"data", "curate corpora: normalise, filter, deduplicate, redact PII, tokenize", runData, "run|stages|redact|langid|quality"})
}

func runData(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "data", "", []subcommand{
		{"run", "run a curation pipeline from a YAML config (resumable)", runDataRun},
		{"stages", "list the pipeline stages and their options", runDataStages},
		{"redact", "print each stdin line with personal information replaced", runDataRedact},
		{"langid", "print the language and confidence of each stdin line", runDataLangID},
		{"quality", "print keep or drop, and the reason, for each stdin line", runDataQuality},
	}, args, stdin, stdout, stderr)
}

// dataEnv gives pipeline stages what they need from other packages.
var dataEnv = data.Env{EvalTexts: eval.ItemTexts}

func runDataRun(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("data run", "", `
Run a curation pipeline: read the input, pass every document through the
stages (see dokja data stages) on all cores, and write the kept documents
to OUT/output/part-*.jsonl.zst (JSON lines with text, id, lang, source),
token shards to OUT/tokens/ when the pipeline ends in tokenize, and
OUT/report.json and OUT/report.html.

An interrupted run resumes where it stopped when started again with the
same config and --out; finished shards are not redone.

Examples:
  dokja data run --config examples/help-pages-pipeline.yaml --out runs/help-data
  dokja data run --config examples/nsmc-pipeline.yaml --input ~/nsmc/reviews.jsonl.gz --out runs/nsmc-data`, stdout, stderr)
	config := fs.String("config", "", "pipeline `file` (YAML)")
	out := fs.String("out", "", "run `folder`")
	force := fs.Bool("force", false, "discard the work of a run with a different config in --out")
	workers := fs.Int("workers", 0, "shards processed in parallel (default: the config's, or all cores)")
	strict := fs.Bool("strict", false, "stop at the first bad input record")
	limit := fs.Int64("limit", 0, "read at most this many documents (overrides the config)")
	runner := fs.String("runner", "local", "local (resumable, with report), or an Apache Beam runner: prism (in-process) or one named by Beam's flags (a binary built with -tags beam)")
	var inputs pathsFlag
	fs.Var(&inputs, "input", "input `file` or folder, replacing the config's input.paths (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *config == "" || *out == "" {
		return fs.usageError("--config and --out are required")
	}
	cfg, err := data.ReadConfig(*config)
	if err != nil {
		return err
	}
	if len(inputs) > 0 {
		cfg.Input.Paths = nil
		for _, p := range inputs {
			abs, err := filepath.Abs(p) // given here, not relative to the config
			if err != nil {
				return fmt.Errorf("--input %s: %w", p, err)
			}
			cfg.Input.Paths = append(cfg.Input.Paths, abs)
		}
	}
	if *workers != 0 {
		cfg.Workers = *workers
	}
	if *strict {
		cfg.Strict = true
	}
	if *limit != 0 {
		cfg.Input.Limit = *limit
	}
	if *runner != "local" {
		return runDataBeam(ctx, cfg, *config, *out, *runner, stdout)
	}
	line := progress.New(stderr)
	rep, err := data.Run(ctx, cfg, data.RunOptions{Out: *out, Env: &dataEnv, Force: *force, Progress: line})
	line.Done()
	if err != nil {
		return err
	}
	return printDataReport(stdout, rep, *out)
}

func printDataReport(w io.Writer, rep *data.Report, out string) error {
	fmt.Fprintf(w, "read %d documents (%.1f MB) from %d files, %d bad records skipped; kept %d (%.1f MB) in %.1fs (%.1f MB/s)\n",
		rep.Input.Docs, float64(rep.Input.Bytes)/1e6, len(rep.Input.Files), rep.Input.Bad,
		rep.Output.Docs, float64(rep.Output.Bytes)/1e6, rep.Seconds, float64(rep.Input.Bytes)/1e6/max(rep.Seconds, 1e-9))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\tin\tout\tmodified\tremoved by reason\tfound")
	for _, st := range rep.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", st.Name, st.In, st.Out, st.Modified, countList(st.Dropped), countList(st.Found))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "report: %s/report.html\n", out)
	return err
}

func countList(m map[string]int64) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) > 4 {
		parts = append(parts[:4], "...")
	}
	return strings.Join(parts, ", ")
}

func runDataStages(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("data stages", "", "List the stages a pipeline config may use, with their options and defaults.", stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, s := range data.Stages() {
		fmt.Fprintf(stdout, "%s (%s stage)\n  %s\n", s.Name, s.Kind, s.Help)
		for l := range strings.SplitSeq(strings.TrimRight(s.Defaults, "\n"), "\n") {
			if l != "{}" {
				fmt.Fprintf(stdout, "    %s\n", l)
			}
		}
	}
	fmt.Fprintf(stdout, "\nquality reasons: %s\n", strings.Join(quality.Reasons(), ", "))
	return nil
}

// eachLine calls f with each line of r, without its line break.
func eachLine(ctx context.Context, r io.Reader, f func(string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := f(strings.TrimSuffix(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stdin line %d: %w", n+1, err)
	}
	return nil
}

func runDataRedact(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("data redact", "", `
Print each line of stdin with personal information replaced by typed
placeholders (<|pii:rrn|>, <|pii:phone|>, <|pii:email|>, <|pii:card|>,
<|pii:account|>, <|pii:ip|>, <|pii:address|>); counts per type go to
stderr.

Example:
  echo "연락처 010-1234-5678" | dokja data redact
  연락처 <|pii:phone|>`, stdout, stderr)
	var kinds listFlag
	fs.Var(&kinds, "kinds", "comma-separated kinds to redact (default all: rrn, phone, email, card, account, ip, address)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var ks []pii.Kind
	for _, k := range kinds {
		if !slices.Contains(pii.Precedence(), pii.Kind(k)) {
			return fmt.Errorf("--kinds: unknown kind %q", k)
		}
		ks = append(ks, pii.Kind(k))
	}
	red := pii.New(pii.Options{Kinds: ks})
	total := pii.Counts{}
	w := bufio.NewWriter(stdout)
	err := eachLine(ctx, stdin, func(l string) error {
		out, c := red.Redact(l)
		for k, n := range c {
			total[k] += n
		}
		w.WriteString(out)
		return w.WriteByte('\n')
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	var parts []string
	for _, k := range pii.Precedence() {
		if total[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, total[k]))
		}
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	fmt.Fprintf(stderr, "redacted: %s\n", strings.Join(parts, ", "))
	return err
}

func runDataLangID(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("data langid", "", `
Print the language (ISO 639-1) and the detector's confidence for each line
of stdin, tab-separated before the line: "ko<TAB>0.98<TAB>text".`, stdout, stderr)
	var langs listFlag
	fs.Var(&langs, "languages", "comma-separated ISO 639-1 codes to choose among (default: the langid stage's)")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := data.NewLangID(data.LangIDOptions{Languages: langs})
	if err != nil {
		return fmt.Errorf("--languages: %w", err)
	}
	w := bufio.NewWriter(stdout)
	err = eachLine(ctx, stdin, func(l string) error {
		lang, score := id.Detect(l)
		_, err := fmt.Fprintf(w, "%s\t%.3f\t%s\n", lang, score, l)
		return err
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func runDataQuality(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("data quality", "", `
Judge each line of stdin with the quality filters (Gopher, C4, FineWeb and
the Korean rules, default thresholds) and print "keep" or "drop", the
reason, and the line, tab-separated. The rules of each line's language
apply: --lang names it, or auto detects it.`, stdout, stderr)
	lang := fs.String("lang", "auto", "language of the lines (ko, en, ...) or auto")
	if err := parse(fs, args); err != nil {
		return err
	}
	f, err := quality.New(quality.DefaultConfig())
	if err != nil {
		return err
	}
	var id *data.LangID
	if *lang == "auto" {
		if id, err = data.NewLangID(data.LangIDOptions{}); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(stdout)
	err = eachLine(ctx, stdin, func(l string) error {
		lg := *lang
		if id != nil {
			lg, _ = id.Detect(l)
		}
		r := f.Check(l, lg)
		verdict, reason := "keep", ""
		if !r.Keep {
			verdict, reason = "drop", r.Reason
		}
		_, err := fmt.Fprintf(w, "%s\t%s\t%s\n", verdict, reason, l)
		return err
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}
