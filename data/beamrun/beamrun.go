// Package beamrun runs a data pipeline (package data) on Apache Beam's Go
// SDK: the Prism runner in-process by default, or Flink, Spark or Dataflow
// through Beam's usual flags for clusters. The stages are the same code as
// the local runner's, and so is the output: the same documents, texts and
// language labels (a test compares them).
//
// Documents travel as JSON. Reading is one element per input file.
// Document stages run in a ParDo per phase; the keys of a corpus stage go
// to a single resolving step (keys only: 16 bytes a document for exact
// deduplication, 8 per band for MinHash), whose decision reaches the next
// phase as a side input. That single step bounds the corpus size Beam
// can deduplicate by one worker's memory for keys; a distributed
// connected-components step is future work. Statistics are Beam counters,
// reported per stage; the tokenize stage is not run on Beam (run it
// locally on the output).
package beamrun

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // textio on local paths
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/data"
	"go.yaml.in/yaml/v3"
)

// Env is handed to the stages built on workers. Workers of the in-process
// Prism runner share it with the caller; a cluster's workers are started
// from the same binary and must set it the same way at start.
var Env *data.Env

func init() {
	register.DoFn3x1[context.Context, string, func(string), error](&readFn{})
	register.DoFn5x1[context.Context, string, func() func(*string) bool, func(string), func([]byte), error](&phaseFn{})
	register.DoFn4x1[context.Context, []byte, func() func(*[]byte) bool, func(string), error](&resolveFn{})
	register.Emitter1[string]()
	register.Emitter1[[]byte]()
	register.Iter1[string]()
	register.Iter1[[]byte]()
	register.DoFn2x0[[]byte, func(string)](&noDecision{})
	beam.RegisterType(reflect.TypeOf((*noDecision)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*readFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*phaseFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*resolveFn)(nil)).Elem())
}

// Options configure Run.
type Options struct {
	// Out is the output file (JSON lines, one document per line, in no
	// particular order).
	Out string
	// Runner is a Beam runner name; "" or "prism" runs in-process.
	Runner string
}

// Result holds the counters of a run: per stage "in", "out",
// "modified", "dropped.REASON" and "found.KIND", and "input.docs",
// "input.bad".
type Result struct {
	Counters map[string]int64
}

// Run runs cfg's pipeline on Beam.
func Run(ctx context.Context, cfg *data.Config, dir string, o Options) (*Result, error) {
	text, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	p, err := cfg.Build(Env)
	if err != nil {
		return nil, err
	}
	if p.Tokenizes() {
		return nil, errors.New("stages: tokenize does not run on Beam; drop it and run dokja tokenize on the output")
	}
	if cfg.Input.Limit > 0 {
		return nil, errors.New("input.limit: not supported on Beam (every file is read whole)")
	}
	files, err := cfg.InputFiles()
	if err != nil {
		return nil, err
	}
	if o.Out == "" {
		return nil, errors.New("no output file")
	}
	beam.Init()
	pipe, s := beam.NewPipelineWithRoot()
	var tasks []string
	for i, f := range files {
		tasks = append(tasks, fmt.Sprintf("%d\t%s", i, f))
	}
	read := &readFn{Config: string(text), Dir: dir}
	docs := beam.ParDo(s.Scope("read"), read, beam.Create(s, toAny(tasks)...))
	decision := beam.ParDo(s, &noDecision{}, beam.Impulse(s))
	for k := range p.Phases() {
		ps := s.Scope(fmt.Sprintf("phase-%d", k+1))
		fn := &phaseFn{Config: string(text), Dir: dir, Phase: k}
		kept, keys := beam.ParDo2(ps, fn, docs, beam.SideInput{Input: decision})
		docs = kept
		if k == p.Phases()-1 {
			break
		}
		decision = beam.ParDo(ps, &resolveFn{Config: string(text), Dir: dir, Phase: k}, beam.Impulse(ps), beam.SideInput{Input: keys})
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return nil, err
	}
	textio.Write(s, o.Out, docs)
	var res beam.PipelineResult
	switch o.Runner {
	case "", "prism":
		res, err = prism.Execute(ctx, pipe)
	default:
		res, err = beam.Run(ctx, o.Runner, pipe)
	}
	if err != nil {
		return nil, err
	}
	out := &Result{Counters: map[string]int64{}}
	if res != nil {
		for _, c := range res.Metrics().AllMetrics().Counters() {
			out.Counters[c.Key.Name] += c.Committed
		}
	}
	return out, nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// built caches pipelines per config on a worker: stage models (language
// detector, decontamination n-grams) are costly to build.
var built sync.Map // config text + dir -> *data.Pipeline

func pipeline(config, dir string) (*data.Pipeline, error) {
	key := dir + "\x00" + config
	if p, ok := built.Load(key); ok {
		return p.(*data.Pipeline), nil
	}
	cfg, err := data.ParseConfig([]byte(config))
	if err != nil {
		return nil, err
	}
	cfg.SetDir(dir)
	p, err := cfg.Build(Env)
	if err != nil {
		return nil, err
	}
	built.Store(key, p)
	return p, nil
}

func count(ctx context.Context, name string, n int64) {
	beam.NewCounter("dokja", name).Inc(ctx, n)
}

// readFn reads one input file ("index<TAB>path") into documents.
type readFn struct {
	Config, Dir string
	cfg         *data.Config
}

func (f *readFn) Setup() error {
	cfg, err := data.ParseConfig([]byte(f.Config))
	f.cfg = cfg
	return err
}

func (f *readFn) ProcessElement(ctx context.Context, task string, emit func(string)) error {
	idx, path, ok := strings.Cut(task, "\t")
	var fi uint64
	if _, err := fmt.Sscan(idx, &fi); !ok || err != nil {
		return fmt.Errorf("bad read task %q", task)
	}
	opt, err := f.cfg.ReaderOptions()
	if err != nil {
		return err
	}
	rd, err := corpus.Open(path, opt)
	if err != nil {
		return err
	}
	defer rd.Close()
	var n uint64
	for rec, err := range rd.All() {
		if err != nil {
			var re *corpus.RecordError
			if errors.As(err, &re) && !f.cfg.Strict {
				count(ctx, "input.bad", 1)
				continue
			}
			if f.cfg.Strict {
				return err
			}
			count(ctx, "input.bad", 1)
			break
		}
		d := data.NewDocument(rec, path, fi<<32|n)
		n++
		js, err := json.Marshal(&d)
		if err != nil {
			return err
		}
		count(ctx, "input.docs", 1)
		emit(string(js))
	}
	return nil
}

// noDecision is the empty decision before the first phase.
type noDecision struct{}

func (*noDecision) ProcessElement(_ []byte, emit func(string)) { emit("") }

func decode(s string) (*data.Decision, error) {
	if s == "" {
		return nil, nil
	}
	var dc data.Decision
	if err := json.Unmarshal([]byte(s), &dc); err != nil {
		return nil, err
	}
	return &dc, nil
}

// phaseFn runs one phase's stages on each document.
type phaseFn struct {
	Config, Dir string
	Phase       int
	p           *data.Pipeline
	prev        *data.Decision
	prevText    string
}

func (f *phaseFn) Setup() (err error) {
	f.p, err = pipeline(f.Config, f.Dir)
	return err
}

func (f *phaseFn) decision(side func() func(*string) bool) (*data.Decision, error) {
	var s string
	side()(&s)
	if f.prev == nil || s != f.prevText {
		dc, err := decode(s)
		if err != nil {
			return nil, err
		}
		f.prev, f.prevText = dc, s
	}
	return f.prev, nil
}

func (f *phaseFn) ProcessElement(ctx context.Context, doc string, side func() func(*string) bool, emit func(string), emitKey func([]byte)) error {
	prev, err := f.decision(side)
	if err != nil {
		return err
	}
	var d data.Document
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return err
	}
	key := binary.LittleEndian.AppendUint64(nil, d.Order)
	keep, key := f.p.Process(f.Phase, prev, &d, key, func(o data.Observation) {
		if o.Kind == "key" {
			return
		}
		count(ctx, o.Stage+".in", 1)
		v := o.Verdict
		for k, n := range v.Counts {
			count(ctx, o.Stage+".found."+k, int64(n))
		}
		switch {
		case v.Drop:
			count(ctx, o.Stage+".dropped."+v.Reason, 1)
		case v.Modified:
			count(ctx, o.Stage+".modified", 1)
			fallthrough
		default:
			count(ctx, o.Stage+".out", 1)
		}
	})
	if !keep {
		return nil
	}
	js, err := json.Marshal(&d)
	if err != nil {
		return err
	}
	emit(string(js))
	if len(key) > 8 {
		emitKey(key)
	}
	return nil
}

// resolveFn decides a corpus stage from every key.
type resolveFn struct {
	Config, Dir string
	Phase       int
	p           *data.Pipeline
}

func (f *resolveFn) Setup() (err error) {
	f.p, err = pipeline(f.Config, f.Dir)
	return err
}

func (f *resolveFn) ProcessElement(_ context.Context, _ []byte, keys func() func(*[]byte) bool, emit func(string)) error {
	dc, err := f.p.Resolve(f.Phase, func(yield func(uint64, []byte) bool) error {
		it := keys()
		var k []byte
		for it(&k) {
			if len(k) < 8 {
				return errors.New("short key record")
			}
			if !yield(binary.LittleEndian.Uint64(k), k[8:]) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	js, err := json.Marshal(dc)
	if err != nil {
		return err
	}
	emit(string(js))
	return nil
}

// ReadOutput reads the documents of a Beam run's output, sorted by their
// place in the input.
func ReadOutput(path string) ([]data.Document, error) {
	matches, err := filepath.Glob(path + "*")
	if err != nil {
		return nil, err
	}
	var docs []data.Document
	for _, m := range matches {
		f, err := os.Open(m)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(f)
		for {
			var d data.Document
			if err := dec.Decode(&d); err == io.EOF {
				break
			} else if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", m, err)
			}
			docs = append(docs, d)
		}
		f.Close()
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Order < docs[j].Order })
	return docs, nil
}
