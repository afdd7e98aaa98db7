package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/shards"
	"github.com/dokja/dokja/tokenizer"
)

// defaultSeparators are tried in order when --separator is not given.
var defaultSeparators = []string{"<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>"}

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
  dokja tokenize --tokenizer tokenizer.json --input corpus/ --out shards/`, stderr)
	var in corpusFlags
	in.register(fs)
	spec := newTokenizerFlag(fs)
	out := fs.String("out", "", "output `folder` (created if missing)")
	valFrac := fs.Float64("val-fraction", 0.005, "share of documents sent to the val split, in [0, 1)")
	shardTokens := fs.Int64("shard-tokens", 100_000_000, "start a new shard when the current one holds this many ids (documents are not split)")
	sepFlag := fs.String("separator", "", "document separator: an added token of the tokenizer (default: the first of "+strings.Join(defaultSeparators, ", ")+" it has)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines encoding in parallel")
	limit := fs.Int64("limit", 0, "read at most this many documents (0: all)")
	force := fs.Bool("force", false, "replace an earlier tokenization in --out (its .tok files and manifest.json)")
	strict := fs.Bool("strict", false, "stop at the first bad record (malformed JSON line, invalid UTF-8, ...) instead of skipping it")
	opt, err := in.parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *out == "":
		fs.Usage()
		return errors.New("--out is required")
	case !(*valFrac >= 0 && *valFrac < 1):
		return fmt.Errorf("--val-fraction %v: must be in [0, 1)", *valFrac)
	case *shardTokens <= 0:
		return fmt.Errorf("--shard-tokens %d: must be positive", *shardTokens)
	case *workers < 1:
		return fmt.Errorf("--workers %d: must be at least 1", *workers)
	case *limit < 0:
		return fmt.Errorf("--limit %d: must not be negative", *limit)
	}
	tok, err := spec.load(fs)
	if err != nil {
		return err
	}
	sep, sepToken, err := chooseSeparator(tok, *sepFlag)
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
	if err := prepareOut(*out, *force); err != nil {
		return err
	}
	job := tokenizeJob{
		tok: tok, sep: sep, sepToken: sepToken, files: files, opt: opt, dir: *out,
		valFrac: *valFrac, shardTokens: *shardTokens, workers: *workers, limit: *limit, strict: *strict,
		line: progress.New(stderr),
	}
	start := time.Now()
	err = job.run(ctx)
	job.line.Done()
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if job.bad > 0 {
		slog.Warn("skipped bad records (use --strict to stop at the first)", "count", job.bad, "first", job.firstBad)
	}
	if *valFrac > 0 && job.val.Docs() == 0 {
		slog.Warn("no document went to the val split; with this little input, raise --val-fraction or set it to 0", "val-fraction", *valFrac)
	}
	docs, ids := job.train.Docs()+job.val.Docs(), job.train.Count()+job.val.Count()
	fmt.Fprintf(stdout, "wrote %s: %d documents, %d tokens (separators included) from %d input files, %.1f MB, in %.1fs (%.0f tokens/s encoding)\n",
		*out, docs, ids, len(files), float64(job.bytes)/1e6, elapsed.Seconds(), float64(ids)/max(job.encodeTime.Seconds(), 1e-9))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, sw := range []*shards.SplitWriter{job.train, job.val} {
		if sw.Docs() == 0 {
			continue
		}
		name := "train"
		if sw == job.val {
			name = "val"
		}
		fmt.Fprintf(tw, "  %s\t%d documents\t%d tokens\t%d shards\t\n", name, sw.Docs(), sw.Count(), len(sw.Files()))
	}
	return tw.Flush()
}

// chooseSeparator returns the id and text of the document separator: the
// added token named by flag, or else the first of defaultSeparators that
// the tokenizer has.
func chooseSeparator(tok *tokenizer.Tokenizer, flag string) (int, string, error) {
	added := tok.AddedTokens()
	find := func(s string) (int, bool) {
		for _, a := range added {
			if a.Content == s {
				return a.ID, true
			}
		}
		return 0, false
	}
	var names []string
	for _, a := range added {
		names = append(names, a.Content)
	}
	have := "it has no added tokens"
	if len(names) > 0 {
		have = "its added tokens are " + strings.Join(names, " ")
	}
	if flag != "" {
		id, ok := find(flag)
		if !ok {
			return 0, "", fmt.Errorf("--separator %q is not an added token of the tokenizer (%s)", flag, have)
		}
		return id, flag, nil
	}
	for _, s := range defaultSeparators {
		if id, ok := find(s); ok {
			return id, s, nil
		}
	}
	return 0, "", fmt.Errorf("the tokenizer has none of %s among its added tokens (%s); name the document separator with --separator",
		strings.Join(defaultSeparators, ", "), have)
}

// prepareOut creates dir, refusing one that holds an earlier tokenization
// (manifest.json or .tok files) unless force, which removes them: the
// manifest first, so that the folder never looks complete while shards go.
func prepareOut(dir string, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	manifest := false
	var old []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case n == shards.ManifestName:
			manifest = true
		case strings.HasSuffix(n, ".tok") && !e.IsDir():
			old = append(old, n)
		case strings.HasPrefix(n, ".") && strings.Contains(n, ".tok.tmp") && !e.IsDir():
			old = append(old, n) // left by a killed run
		}
	}
	if !manifest && len(old) == 0 {
		return nil
	}
	if !force {
		what := fmt.Sprintf("%d .tok files", len(old))
		if manifest {
			what = shards.ManifestName + " and " + what
		}
		return fmt.Errorf("--out %s already holds a tokenization (%s); use --force to replace it", dir, what)
	}
	if manifest {
		if err := os.Remove(filepath.Join(dir, shards.ManifestName)); err != nil {
			return fmt.Errorf("--force: %w", err)
		}
	}
	for _, n := range old {
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("--force: %w", err)
		}
	}
	return nil
}

// tokenizeJob is one run of dokja tokenize.
type tokenizeJob struct {
	tok         *tokenizer.Tokenizer
	sep         int
	sepToken    string
	files       []string
	opt         corpus.Options
	dir         string
	valFrac     float64
	shardTokens int64
	workers     int
	limit       int64
	strict      bool
	line        *progress.Line

	train, val *shards.SplitWriter
	bytes      int64         // text bytes read
	bad        int64         // bad records skipped
	firstBad   string        // the first of them
	encodeTime time.Duration // reading, encoding and writing the shards
}

// docBatch is a run of consecutive documents, encoded by one worker.
type docBatch struct {
	texts []string
	where []docPos
	ids   [][]int
	val   []bool
	bytes int64
	err   error
	done  chan struct{}
}

// docPos locates a document for error messages.
type docPos struct {
	file int
	line int64
}

const (
	batchDocs  = 1000
	batchBytes = 4 << 20
)

// run reads, encodes and writes everything, then the tokenizer copy and
// the manifest. Batches of documents are read in order, encoded by the
// workers in any order, and written in read order, so the output does not
// depend on the number of workers. On any error (or cancellation) every
// file it wrote is removed.
func (j *tokenizeJob) run(ctx context.Context) (err error) {
	vocab := j.tok.VocabSize()
	if j.train, err = shards.NewSplitWriter(j.dir, "train", vocab, j.sep, j.shardTokens); err != nil {
		return err
	}
	if j.val, err = shards.NewSplitWriter(j.dir, "val", vocab, j.sep, j.shardTokens); err != nil {
		return err
	}
	tokPath := filepath.Join(j.dir, "tokenizer.json")
	_, statErr := os.Stat(tokPath)
	hadTok := statErr == nil
	defer func() {
		if err != nil {
			j.train.Abort()
			j.val.Abort()
			if !hadTok {
				os.Remove(tokPath)
			}
		}
	}()

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := make(chan *docBatch, 2*j.workers)
	work := make(chan *docBatch, j.workers)
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(order)
		defer close(work)
		readErr = j.read(ctx, order, work)
	})
	for range j.workers {
		wg.Go(func() {
			for b := range work {
				j.encode(ctx, b)
				close(b.done)
			}
		})
	}
	start := time.Now()
	err = j.write(ctx, order)
	j.encodeTime = time.Since(start)
	cancel() // stops the reader and the encoders if the writer stopped early
	wg.Wait()
	if err == nil {
		err = readErr
	}
	if err == nil {
		err = parent.Err()
	}
	if err != nil {
		return err
	}
	return j.finish()
}

// read sends batches of documents, in input order, to order (for the
// writer) and work (for the encoders).
func (j *tokenizeJob) read(ctx context.Context, order, work chan<- *docBatch) error {
	var docs int64
	b := &docBatch{done: make(chan struct{})}
	send := func() error {
		if len(b.texts) == 0 {
			return nil
		}
		for _, ch := range []chan<- *docBatch{order, work} {
			select {
			case ch <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		b = &docBatch{done: make(chan struct{})}
		return nil
	}
	for fi, path := range j.files {
		r, err := corpus.Open(path, j.opt)
		if err != nil {
			return err
		}
		for {
			if j.limit > 0 && docs >= j.limit {
				break
			}
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			var re *corpus.RecordError
			if errors.As(err, &re) && !j.strict {
				if j.bad == 0 {
					j.firstBad = re.Error()
				}
				j.bad++
				continue
			}
			if err != nil {
				r.Close()
				return err
			}
			b.texts = append(b.texts, rec.Text)
			b.where = append(b.where, docPos{fi, rec.Line})
			b.bytes += int64(len(rec.Text))
			docs++
			if len(b.texts) >= batchDocs || b.bytes >= batchBytes {
				if err := send(); err != nil {
					r.Close()
					return err
				}
			}
		}
		if err := r.Close(); err != nil {
			return err
		}
		if j.limit > 0 && docs >= j.limit {
			break
		}
	}
	return send()
}

// encode fills b.ids and b.val. Texts are encoded as ordinary text, so
// special-token strings inside a document never become special ids.
func (j *tokenizeJob) encode(ctx context.Context, b *docBatch) {
	b.ids = make([][]int, len(b.texts))
	b.val = make([]bool, len(b.texts))
	for i, text := range b.texts {
		if err := ctx.Err(); err != nil {
			b.err = err
			return
		}
		ids, err := j.tok.EncodeOrdinary(text)
		if err != nil {
			b.err = fmt.Errorf("%s line %d: %w", j.files[b.where[i].file], b.where[i].line, err)
			return
		}
		b.ids[i] = ids
		b.val[i] = shards.IsVal(text, j.valFrac)
	}
	b.texts = nil
}

// write appends the batches' documents to the splits, in order.
func (j *tokenizeJob) write(ctx context.Context, order <-chan *docBatch) error {
	start := time.Now()
	for {
		var b *docBatch
		select {
		case b = <-order:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b == nil {
			return nil // order closed: all read
		}
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b.err != nil {
			return b.err
		}
		for i, ids := range b.ids {
			sw := j.train
			if b.val[i] {
				sw = j.val
			}
			if err := sw.Append(ids); err != nil {
				return fmt.Errorf("%s line %d: %w", j.files[b.where[i].file], b.where[i].line, err)
			}
		}
		j.bytes += b.bytes
		docs, ids := j.train.Docs()+j.val.Docs(), j.train.Count()+j.val.Count()
		j.line.Printf("tokenizing: %d documents, %d tokens, %.1f MB, %.0f tokens/s",
			docs, ids, float64(j.bytes)/1e6, float64(ids)/time.Since(start).Seconds())
	}
}

// finish closes the shards, copies the tokenizer and writes the manifest.
func (j *tokenizeJob) finish() error {
	if err := j.train.Close(); err != nil {
		return err
	}
	if err := j.val.Close(); err != nil {
		return err
	}
	switch {
	case j.train.Docs() == 0 && j.val.Docs() == 0:
		return errors.New("the input holds no texts")
	case j.train.Docs() == 0:
		return fmt.Errorf("all %d documents went to the val split; lower --val-fraction", j.val.Docs())
	}
	tokPath := filepath.Join(j.dir, "tokenizer.json")
	if err := j.tok.SaveJSON(tokPath); err != nil {
		return err
	}
	data, err := os.ReadFile(tokPath)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	m := &shards.Manifest{
		Version:         shards.ManifestVersion,
		Tokenizer:       "tokenizer.json",
		TokenizerSHA256: hex.EncodeToString(sum[:]),
		Vocab:           j.tok.VocabSize(),
		Separator:       j.sep,
		SeparatorToken:  j.sepToken,
		ValFraction:     j.valFrac,
		Splits:          map[string]shards.SplitInfo{},
		Inputs:          slices.Clone(j.files),
		Created:         time.Now().UTC().Truncate(time.Second),
	}
	for name, sw := range map[string]*shards.SplitWriter{"train": j.train, "val": j.val} {
		if sw.Docs() > 0 {
			m.Splits[name] = shards.SplitInfo{Tokens: sw.Count(), Documents: sw.Docs(), Files: sw.Files()}
		}
	}
	return shards.WriteManifest(j.dir, m)
}
