package data

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/progress"
	"github.com/klauspost/compress/zstd"
	"go.yaml.in/yaml/v3"
)

// RunOptions configure Run.
type RunOptions struct {
	// Out is the run folder: work files, output/, tokens/, report.json
	// and report.html land there.
	Out string
	Env *Env
	// Force discards the work of an earlier run with a different config
	// in Out instead of refusing to run.
	Force    bool
	Progress *progress.Line
}

// Folder and file names inside a run folder.
const (
	configName = "config.yaml"
	workDir    = "work"
	outputDir  = "output"
	ingestName = "ingest.json"
)

// IngestStats describes the reading of the input.
type IngestStats struct {
	Files   []string `json:"files"`
	Shards  []string `json:"shards"`
	Docs    int64    `json:"docs"`
	Bytes   int64    `json:"bytes"`
	Bad     int64    `json:"bad"`
	BadList []string `json:"bad_records,omitempty"` // the first few, with file and line
	Seconds float64  `json:"seconds"`
}

const maxBadListed = 20

func (st *IngestStats) bad(msg string) {
	st.Bad++
	if len(st.BadList) < maxBadListed {
		st.BadList = append(st.BadList, msg)
	}
}

// shardResult is the completion marker of one shard in one phase.
type shardResult struct {
	Stages map[string]*StageStats `json:"stages"`
	Docs   int64                  `json:"docs"` // written
}

// Run runs the pipeline on its input with the local runner and writes the
// report. A run folder holding a finished or interrupted run of the same
// config is resumed: shards with a completion marker are not redone.
func Run(ctx context.Context, cfg *Config, o RunOptions) (*Report, error) {
	p, err := cfg.Build(o.Env)
	if err != nil {
		return nil, err
	}
	return runPipeline(ctx, p, o)
}

func runPipeline(ctx context.Context, p *Pipeline, o RunOptions) (*Report, error) {
	start := time.Now()
	cfg := p.cfg
	if o.Out == "" {
		return nil, errors.New("no run folder")
	}
	if err := prepareRun(o.Out, cfg, o.Force); err != nil {
		return nil, err
	}
	r := &runner{p: p, cfg: cfg, out: o.Out, line: o.Progress, workers: cfg.Workers}
	if r.workers == 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	ing, err := r.ingest(ctx)
	if err != nil {
		return nil, err
	}
	var decisions []*Decision
	for k := range p.phases {
		if err := r.phase(ctx, k, ing.Shards, decisions); err != nil {
			return nil, err
		}
		if p.phases[k].corpus != nil {
			dc, err := r.resolve(ctx, k, ing.Shards)
			if err != nil {
				return nil, err
			}
			decisions = append(decisions, dc)
		}
	}
	var tok *TokenizeResult
	if p.sink != nil {
		if tok, err = r.tokenize(ctx, ing.Shards); err != nil {
			return nil, err
		}
	}
	rep, err := r.report(ing, decisions, tok, time.Since(start))
	if err != nil {
		return nil, err
	}
	if err := rep.Write(o.Out); err != nil {
		return nil, err
	}
	return rep, nil
}

// prepareRun creates the run folder, or checks that the one there holds
// work of the same config.
func prepareRun(dir string, cfg *Config, force bool) error {
	if err := os.MkdirAll(filepath.Join(dir, workDir), 0o755); err != nil {
		return err
	}
	text, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, configName)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && string(old) == string(text):
		// Resuming: temporary files of writes a kill cut short go first.
		return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			_, err = atomicfile.RemoveStale(path)
			return err
		})
	case err == nil && !force:
		return fmt.Errorf("%s holds a run of a different pipeline config (%s); use another folder or --force to discard it", dir, path)
	case err == nil || force:
		for _, d := range []string{workDir, outputDir} {
			if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, workDir), 0o755); err != nil {
			return err
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	return atomicfile.WriteFile(path, text)
}

type runner struct {
	p       *Pipeline
	cfg     *Config
	out     string
	line    *progress.Line
	workers int
}

func (r *runner) work(parts ...string) string {
	return filepath.Join(append([]string{r.out, workDir}, parts...)...)
}

func phaseDir(k int) string { return fmt.Sprintf("phase-%d", k+1) }

// ingest reads the input into work shards of cfg.ShardDocs documents,
// once: its marker lists the shards.
func (r *runner) ingest(ctx context.Context) (*IngestStats, error) {
	marker := r.work(ingestName)
	if st, err := readJSON[IngestStats](marker); err == nil {
		return st, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	start := time.Now()
	files, err := r.cfg.InputFiles()
	if err != nil {
		return nil, err
	}
	st := &IngestStats{Files: files}
	dir := r.work("ingest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	opt, err := r.cfg.ReaderOptions()
	if err != nil {
		return nil, err
	}
	var batch []Document
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		name := fmt.Sprintf("shard-%05d.jsonl.zst", len(st.Shards))
		if err := writeDocs(filepath.Join(dir, name), batch); err != nil {
			return err
		}
		st.Shards = append(st.Shards, name)
		batch = batch[:0]
		return nil
	}
	limit := r.cfg.Input.Limit
files:
	for _, path := range files {
		rd, err := corpus.Open(path, opt)
		if err != nil {
			return nil, err
		}
		for rec, err := range rd.All() {
			if err != nil {
				var re *corpus.RecordError
				if errors.As(err, &re) && !r.cfg.Strict {
					st.bad(re.Error())
					continue
				}
				if r.cfg.Strict || ctx.Err() != nil {
					rd.Close()
					return nil, err
				}
				// A damaged file (truncated gzip, a read error) loses its
				// rest; the documents before the damage stay.
				st.bad(fmt.Sprintf("%v (the rest of the file is skipped)", err))
				break
			}
			if ctx.Err() != nil {
				rd.Close()
				return nil, ctx.Err()
			}
			batch = append(batch, NewDocument(rec, path, uint64(len(st.Shards))<<32|uint64(len(batch))))
			st.Docs++
			st.Bytes += int64(len(rec.Text))
			if len(batch) == r.cfg.ShardDocs {
				if err := flush(); err != nil {
					rd.Close()
					return nil, err
				}
			}
			r.line.Printf("reading: %d documents, %.1f MB, %d bad records", st.Docs, float64(st.Bytes)/1e6, st.Bad)
			if limit > 0 && st.Docs >= limit {
				rd.Close()
				break files
			}
		}
		rd.Close()
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if st.Docs == 0 {
		return nil, fmt.Errorf("input.paths: the input holds no documents (%d bad records)", st.Bad)
	}
	st.Seconds = time.Since(start).Seconds()
	if st.Bad > 0 {
		slog.Warn("skipped bad input records (strict: true stops at the first)", "count", st.Bad, "first", st.BadList[0])
	}
	return st, atomicfile.WriteJSON(marker, st)
}

// phase runs phase k over every shard not yet done, on all workers.
func (r *runner) phase(ctx context.Context, k int, shards []string, decisions []*Decision) error {
	dir := r.work(phaseDir(k))
	outDir := dir
	last := k == len(r.p.phases)-1
	if last {
		outDir = filepath.Join(r.out, outputDir)
	}
	for _, d := range []string{dir, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var todo []int
	for i := range shards {
		if _, err := os.Stat(filepath.Join(dir, markerName(i))); errors.Is(err, os.ErrNotExist) {
			todo = append(todo, i)
		} else if err != nil {
			return err
		}
	}
	if len(todo) == 0 {
		return nil
	}
	var prev *Decision
	if k > 0 {
		prev = decisions[k-1]
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     atomic.Int64
		docs     atomic.Int64
	)
	start := time.Now()
	for range min(r.workers, len(todo)) {
		wg.Go(func() {
			for i := range jobs {
				in := r.work("ingest", shards[i])
				if k > 0 {
					in = r.work(phaseDir(k-1), shardName(i))
				}
				out := filepath.Join(outDir, shardName(i))
				if last {
					out = filepath.Join(outDir, partName(i))
				}
				err := r.shard(ctx, k, i, in, out, prev, &docs)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				done.Add(1)
				r.line.Printf("phase %d of %d: %d of %d shards, %d documents, %.0f documents/s",
					k+1, len(r.p.phases), int(done.Load())+len(shards)-len(todo), len(shards), docs.Load(),
					float64(docs.Load())/time.Since(start).Seconds())
			}
		})
	}
feed:
	for _, i := range todo {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := parent.Err(); err != nil {
		return err
	}
	return firstErr
}

func shardName(i int) string  { return fmt.Sprintf("shard-%05d.jsonl.zst", i) }
func partName(i int) string   { return fmt.Sprintf("part-%05d.jsonl.zst", i) }
func markerName(i int) string { return fmt.Sprintf("shard-%05d.done.json", i) }
func keysName(i int) string   { return fmt.Sprintf("shard-%05d.keys", i) }

// shard runs phase k on shard i: applies the previous corpus stage's
// decision, runs the phase's stages, writes the kept documents and, when
// the phase ends at a corpus stage, their keys; then the marker.
func (r *runner) shard(ctx context.Context, k, i int, in, out string, prev *Decision, count *atomic.Int64) error {
	ph := r.p.phases[k]
	res := shardResult{Stages: map[string]*StageStats{}}
	stat := func(name, kind string) *StageStats {
		s := res.Stages[name]
		if s == nil {
			s = &StageStats{Name: name, Kind: kind}
			res.Stages[name] = s
		}
		return s
	}
	samples := r.cfg.Samples
	var keyBuf []byte
	write := func(docs io.Writer, keys io.Writer) error {
		enc := json.NewEncoder(docs)
		enc.SetEscapeHTML(false)
		var hdr [12]byte
		err := readDocs(in, func(d *Document) error {
			count.Add(1)
			if err := ctx.Err(); err != nil {
				return err
			}
			keep, key := r.p.Process(k, prev, d, keyBuf[:0], func(o Observation) {
				if o.Kind == "key" {
					stat(o.Stage, "corpus").Seconds += o.Elapsed.Seconds()
					return
				}
				st := stat(o.Stage, o.Kind)
				st.record(d, o.Before, o.Verdict, samples)
				st.Seconds += o.Elapsed.Seconds()
			})
			keyBuf = key
			if !keep {
				return nil
			}
			// A document without a key is one the stage leaves alone.
			if len(key) > 0 {
				binary.LittleEndian.PutUint64(hdr[:], d.Order)
				binary.LittleEndian.PutUint32(hdr[8:], uint32(len(key)))
				if _, err := keys.Write(hdr[:]); err != nil {
					return err
				}
				if _, err := keys.Write(key); err != nil {
					return err
				}
			}
			res.Docs++
			return enc.Encode(d)
		})
		return err
	}
	err := atomicfile.Write(out, func(w io.Writer) error {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(zw, 1<<16)
		if ph.corpus == nil {
			err = write(bw, nil)
		} else {
			err = atomicfile.Write(r.work(phaseDir(k), keysName(i)), func(kw io.Writer) error {
				kb := bufio.NewWriterSize(kw, 1<<16)
				if err := write(bw, kb); err != nil {
					return err
				}
				return kb.Flush()
			})
		}
		if err == nil {
			err = bw.Flush()
		}
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return err
	}
	return atomicfile.WriteJSON(r.work(phaseDir(k), markerName(i)), res)
}

// resolve runs phase k's corpus stage over every shard's keys, once.
func (r *runner) resolve(ctx context.Context, k int, shards []string) (*Decision, error) {
	path := r.work(phaseDir(k), "decision.json")
	if dc, err := readJSON[Decision](path); err == nil {
		return dc, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	cs := r.p.phases[k].corpus
	r.line.Printf("phase %d of %d: %s over %d shards", k+1, len(r.p.phases), cs.Name(), len(shards))
	t0 := time.Now()
	dc, err := r.p.Resolve(k, func(yield func(uint64, []byte) bool) error {
		for i := range shards {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := readKeys(r.work(phaseDir(k), keysName(i)), yield); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slog.Debug("resolved", "stage", cs.Name(), "drop", len(dc.Drop), "groups", dc.Groups, "seconds", time.Since(t0).Seconds())
	return dc, atomicfile.WriteJSON(path, dc)
}

var errStop = errors.New("stop")

// readKeys reads a keys file: records of order (8 bytes), length (4) and
// the key.
func readKeys(path string, yield func(uint64, []byte) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var hdr [12]byte
	var key []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n := binary.LittleEndian.Uint32(hdr[8:])
		if n > 1<<24 {
			return fmt.Errorf("%s: key of %d bytes: corrupt work file", path, n)
		}
		key = append(key[:0], make([]byte, n)...)
		if _, err := io.ReadFull(br, key); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if !yield(binary.LittleEndian.Uint64(hdr[:]), key) {
			return nil
		}
	}
}

// writeDocs writes documents as zstd-compressed JSON lines, atomically.
func writeDocs(path string, docs []Document) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(zw, 1<<16)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		for i := range docs {
			if err := enc.Encode(&docs[i]); err != nil {
				zw.Close()
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			zw.Close()
			return err
		}
		return zw.Close()
	})
}

// readDocs calls f with each document of a work file, reusing one
// Document.
func readDocs(path string, f func(*Document) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	zr, err := zstd.NewReader(file, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(zr, 1<<16))
	for {
		var d Document
		if err := dec.Decode(&d); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := f(&d); err != nil {
			return err
		}
	}
}

// OutputFiles lists the curated output of a finished run, in input order.
func OutputFiles(runDir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(runDir, outputDir, "part-*.jsonl.zst"))
	sort.Strings(files)
	return files, err
}

// tokenize runs the sink over the output, unless a finished tokenization
// is there.
func (r *runner) tokenize(ctx context.Context, shards []string) (*TokenizeResult, error) {
	o := r.p.sink
	dir := filepath.Join(r.out, o.Out)
	if res, err := readJSON[TokenizeResult](r.work("tokenize.json")); err == nil {
		return res, nil
	}
	files, err := OutputFiles(r.out)
	if err != nil {
		return nil, err
	}
	res, err := Tokenize(ctx, TokenizeOptions{
		Tokenizer: o.tok, Separator: o.Separator, Files: files,
		Read: corpus.Options{Format: corpus.JSONL}, Out: dir,
		ValFraction: o.ValFraction, ShardTokens: o.ShardTokens, Workers: r.workers,
		Strict: true, Force: true, Progress: r.line,
	})
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	return res, atomicfile.WriteJSON(r.work("tokenize.json"), res)
}

// readJSON reads a work file; a damaged one says how to recover.
func readJSON[T any](path string) (*T, error) {
	v, err := atomicfile.ReadJSON[T](path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("%w (a damaged work file: delete it to redo its step)", err)
	}
	return v, err
}

// ReadDocs reads the documents of an output file (or a work file).
func ReadDocs(path string) ([]Document, error) {
	var docs []Document
	err := readDocs(path, func(d *Document) error { docs = append(docs, *d); return nil })
	return docs, err
}
