package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/data"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/shards"
)

func runTokenize(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", "[FILE...]", `
Encode a corpus into token shards for training: DIR/train-00000.tok, ...,
DIR/val-00000.tok, a copy of the tokenizer as DIR/tokenizer.json, and
DIR/manifest.json, written last (its presence marks a complete folder).

Each document is stored as the separator token followed by its ids. Texts
are encoded as ordinary text: a special-token string such as <|endoftext|>
inside a document stays text and never becomes the special id, so only
the separators written here mark document boundaries.

A document goes to the val split when the first 8 bytes of SHA-256 of its
text, as a fraction of 2^64, fall below --val-fraction: the split is stable
across runs and identical documents always land together. Encoding uses
every core; the output is the same for any --workers.

Example:
  dokja tokenize --tokenizer tokenizer.json --input corpus/ --out shards/`, stdout, stderr)
	var in corpusFlags
	in.register(fs)
	spec := newTokenizerFlag(fs)
	out := fs.String("out", "", "output `folder` (created if missing)")
	valFrac := fs.Float64("val-fraction", 0.005, "share of documents sent to the val split, in [0, 1)")
	shardTokens := fs.Int64("shard-tokens", 100_000_000, "start a new shard when the current one holds this many ids (documents are not split)")
	sepFlag := fs.String("separator", "", "document separator: an added token of the tokenizer (default: the first of "+strings.Join(data.DefaultSeparators, ", ")+" it has)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines encoding in parallel")
	limit := fs.Int64("limit", 0, "read at most this many documents (0: all)")
	force := fs.Bool("force", false, "replace an earlier tokenization in --out (its .tok files and manifest.json)")
	strict := fs.Bool("strict", false, "stop at the first bad record (malformed JSON line, invalid UTF-8, ...) instead of skipping it")
	opt, err := in.parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return fs.usageError("--out is required")
	}
	if *workers < 1 {
		return fmt.Errorf("--workers %d: must be at least 1", *workers)
	}
	tok, err := spec.load(fs)
	if err != nil {
		return err
	}
	files, err := corpus.Expand(in.inputs)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("--input %s: no .txt, .jsonl or .html files found", strings.Join(in.inputs, " "))
	}
	start := time.Now()
	line := progress.New(stderr)
	res, err := data.Tokenize(ctx, data.TokenizeOptions{
		Tokenizer: tok, Separator: *sepFlag, Files: files, Read: opt, Out: *out,
		ValFraction: *valFrac, ShardTokens: *shardTokens, Workers: *workers, Limit: *limit,
		Strict: *strict, Force: *force, Progress: line,
	})
	line.Done()
	if err != nil {
		return flagErr(err)
	}
	elapsed := time.Since(start)
	if res.Bad > 0 {
		slog.Warn("skipped bad records (use --strict to stop at the first)", "count", res.Bad, "first", res.FirstBad)
	}
	if *valFrac > 0 && res.Val.Documents == 0 {
		slog.Warn("no document went to the val split; with this little input, raise --val-fraction or set it to 0", "val-fraction", *valFrac)
	}
	docs, ids := res.Train.Documents+res.Val.Documents, res.Train.Tokens+res.Val.Tokens
	fmt.Fprintf(stdout, "wrote %s: %d documents, %d tokens (separators included) from %d input files, %.1f MB, in %.1fs (%.0f tokens/s encoding)\n",
		*out, docs, ids, len(files), float64(res.Bytes)/1e6, elapsed.Seconds(), float64(ids)/max(res.EncodeTime.Seconds(), 1e-9))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, s := range []struct {
		name string
		info shards.SplitInfo
	}{{"train", res.Train}, {"val", res.Val}} {
		if s.info.Documents == 0 {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d documents\t%d tokens\t%d shards\t\n", s.name, s.info.Documents, s.info.Tokens, len(s.info.Files))
	}
	return tw.Flush()
}

// flagErr names the flags behind the errors of data.Tokenize.
func flagErr(err error) error {
	msg := err.Error()
	for _, r := range [][2]string{{"val fraction", "--val-fraction"}, {"shard tokens", "--shard-tokens"}, {"workers", "--workers"}, {"limit", "--limit"}, {"separator", "--separator"}} {
		if strings.HasPrefix(msg, r[0]+" ") {
			return fmt.Errorf("%s%s", r[1], strings.TrimPrefix(msg, r[0]))
		}
	}
	if strings.HasSuffix(msg, "name the document separator") {
		return fmt.Errorf("%w with --separator", err)
	}
	if strings.Contains(msg, "use --force") || strings.HasPrefix(msg, "output folder") {
		return fmt.Errorf("--out: %w", err)
	}
	return err
}
