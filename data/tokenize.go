package data

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/shards"
	"github.com/dokja/dokja/tokenizer"
)

// DefaultSeparators are tried in order when no separator is named.
var DefaultSeparators = []string{"<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>"}

// TokenizeOptions configure Tokenize.
type TokenizeOptions struct {
	Tokenizer *tokenizer.Tokenizer
	// Separator is the added token written before each document; empty
	// picks the first of DefaultSeparators the tokenizer has.
	Separator string
	Files     []string
	Read      corpus.Options
	Out       string // folder, created if missing
	// ValFraction of the documents, chosen by hash of their text, go to
	// the val split.
	ValFraction float64
	ShardTokens int64 // ids per shard before a new one starts
	Workers     int   // 0: all cores
	Limit       int64 // documents to read at most (0: all)
	Strict      bool  // stop at the first bad record instead of skipping it
	Force       bool  // replace an earlier tokenization in Out
	Progress    *progress.Line
}

// TokenizeResult describes a finished tokenization.
type TokenizeResult struct {
	Train, Val shards.SplitInfo
	Bytes      int64         // text bytes read
	Bad        int64         // bad records skipped
	FirstBad   string        // the first of them
	EncodeTime time.Duration // reading, encoding and writing the shards
}

// Tokenize encodes a corpus into token shards: Out/train-00000.tok, ...,
// Out/val-00000.tok, a copy of the tokenizer as Out/tokenizer.json, and
// Out/manifest.json, written last (its presence marks a complete folder).
// Each document is stored as the separator followed by its ids; texts are
// encoded as ordinary text, so a special-token string inside a document
// stays text. The output is the same for any number of workers. On error
// every file it wrote is removed.
func Tokenize(ctx context.Context, o TokenizeOptions) (*TokenizeResult, error) {
	switch {
	case o.Tokenizer == nil:
		return nil, errors.New("tokenize: no tokenizer")
	case !(o.ValFraction >= 0 && o.ValFraction < 1):
		return nil, fmt.Errorf("val fraction %v: must be in [0, 1)", o.ValFraction)
	case o.ShardTokens <= 0:
		return nil, fmt.Errorf("shard tokens %d: must be positive", o.ShardTokens)
	case o.Workers < 0:
		return nil, fmt.Errorf("workers %d: must not be negative", o.Workers)
	case o.Limit < 0:
		return nil, fmt.Errorf("limit %d: must not be negative", o.Limit)
	case len(o.Files) == 0:
		return nil, errors.New("tokenize: no input files")
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	sep, sepToken, err := ChooseSeparator(o.Tokenizer, o.Separator)
	if err != nil {
		return nil, err
	}
	if err := prepareOut(o.Out, o.Force); err != nil {
		return nil, err
	}
	j := tokenizeJob{
		tok: o.Tokenizer, sep: sep, sepToken: sepToken, files: o.Files, opt: o.Read, dir: o.Out,
		valFrac: o.ValFraction, shardTokens: o.ShardTokens, workers: o.Workers, limit: o.Limit, strict: o.Strict,
		line: o.Progress,
	}
	if err := j.run(ctx); err != nil {
		return nil, err
	}
	res := &TokenizeResult{Bytes: j.bytes, Bad: j.bad, FirstBad: j.firstBad, EncodeTime: j.encodeTime}
	res.Train = shards.SplitInfo{Tokens: j.train.Count(), Documents: j.train.Docs(), Files: j.train.Files()}
	res.Val = shards.SplitInfo{Tokens: j.val.Count(), Documents: j.val.Docs(), Files: j.val.Files()}
	return res, nil
}

// ChooseSeparator returns the id and text of the document separator: the
// added token named by flag, or else the first of DefaultSeparators that
// the tokenizer has.
func ChooseSeparator(tok *tokenizer.Tokenizer, flag string) (int, string, error) {
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
			return 0, "", fmt.Errorf("separator %q is not an added token of the tokenizer (%s)", flag, have)
		}
		return id, flag, nil
	}
	for _, s := range DefaultSeparators {
		if id, ok := find(s); ok {
			return id, s, nil
		}
	}
	return 0, "", fmt.Errorf("the tokenizer has none of %s among its added tokens (%s); name the document separator",
		strings.Join(DefaultSeparators, ", "), have)
}

// prepareOut creates dir, refusing one that holds an earlier tokenization
// (manifest.json or .tok files) unless force, which removes them: the
// manifest first, so that the folder never looks complete while shards go.
func prepareOut(dir string, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
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
		return fmt.Errorf("%s already holds a tokenization (%s); use --force to replace it", dir, what)
	}
	if manifest {
		if err := os.Remove(filepath.Join(dir, shards.ManifestName)); err != nil {
			return fmt.Errorf("removing the earlier tokenization: %w", err)
		}
	}
	for _, n := range old {
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("removing the earlier tokenization: %w", err)
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
		return fmt.Errorf("all %d documents went to the val split; lower the val fraction", j.val.Docs())
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
