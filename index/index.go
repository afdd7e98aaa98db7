// Package index is a local search index over corpus files: documents cut
// into overlapping chunks, ranked by BM25 (bleve, with a Korean-aware
// analyzer). Builds are atomic: a reader sees the old index or the new
// one, never a half-written one.
package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/corpus"
)

// Options configure a build.
type Options struct {
	// Format, Field and IDField say how to read the files (see corpus).
	Format  corpus.Format
	Field   string
	IDField string
	// ChunkChars is a chunk's length in characters (default 1000);
	// Overlap how many characters consecutive chunks share (default 200).
	ChunkChars int
	Overlap    int
	// Progress, when set, hears of each file indexed.
	Progress func(file string, chunks int)
	// Embedder, when set, gives every chunk a vector as well (dense and
	// hybrid search); EmbedderName identifies it in the manifest, and a
	// build with another name embeds everything again.
	Embedder     Embedder
	EmbedderName string
	// ApproxFrom is the number of vectors from which the build adds an
	// approximate index (an inverted file; see Index.Probes): 0 means
	// DefaultApproxFrom, a negative number never.
	ApproxFrom int
	// Probes is, for Evaluate, Index.Probes of its dense searches.
	Probes int
	// analyzer replaces AnalyzerName, for tests that compare analyzers.
	analyzer string
}

func (o *Options) defaults() error {
	if o.ChunkChars == 0 {
		o.ChunkChars = 1000
	}
	if o.Overlap == 0 {
		o.Overlap = 200
	}
	if o.ChunkChars < 50 || o.ChunkChars > 100000 {
		return fmt.Errorf("index: chunk size %d: want 50 to 100000 characters", o.ChunkChars)
	}
	if o.Overlap < 0 || o.Overlap >= o.ChunkChars/2 {
		return fmt.Errorf("index: overlap %d: want 0 to less than half the chunk size (%d)", o.Overlap, o.ChunkChars)
	}
	return nil
}

// Chunk is a piece of a document.
type Chunk struct {
	// ID is Doc, "#" and the chunk's number in the document.
	ID string `json:"id"`
	// Doc names the document: its file and line (file:line), or
	// file#ID where the format has IDs.
	Doc  string `json:"doc"`
	Text string `json:"text"`
	// Start is where the chunk begins in the document, in characters.
	Start int `json:"start"`
}

// Hit is a chunk found by a search, with its score.
type Hit struct {
	Chunk
	Score float64 `json:"score"`
}

// Manifest describes an index: what it was built from and how.
type Manifest struct {
	Version    int       `json:"version"`
	Analyzer   string    `json:"analyzer"`
	ChunkChars int       `json:"chunk_chars"`
	Overlap    int       `json:"overlap"`
	Format     string    `json:"format"`
	Field      string    `json:"field,omitempty"`
	IDField    string    `json:"id_field,omitempty"`
	Files      []File    `json:"files"`
	Docs       int       `json:"docs"`
	Chunks     int       `json:"chunks"`
	Built      time.Time `json:"built"`
	// Embedder names the model that gave the chunks' vectors (none: BM25
	// only); Dim is their width.
	Embedder string `json:"embedder,omitempty"`
	Dim      int    `json:"dim,omitempty"`
	// Lists is the number of clusters of the approximate index (none: 0).
	Lists int `json:"lists,omitempty"`
}

// File is one input file of an index, as it was when indexed.
type File struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	Docs    int       `json:"docs"`
	Chunks  int       `json:"chunks"`
}

const (
	manifestName = "manifest.json"
	bleveName    = "bm25.bleve"
)

func indexMapping(analyzer string) mapping.IndexMapping {
	m := bleve.NewIndexMapping()
	m.DefaultAnalyzer = analyzer
	doc := bleve.NewDocumentMapping()
	text := bleve.NewTextFieldMapping()
	text.Analyzer = analyzer
	text.Store = true
	doc.AddFieldMappingsAt("text", text)
	keyword := bleve.NewKeywordFieldMapping()
	keyword.Store = true
	doc.AddFieldMappingsAt("doc", keyword)
	doc.AddFieldMappingsAt("file", keyword)
	start := bleve.NewNumericFieldMapping()
	start.Store = true
	start.Index = false
	doc.AddFieldMappingsAt("start", start)
	m.DefaultMapping = doc
	return m
}

// Build indexes the files (folders are expanded) into dir, replacing
// what was there only once the new index is complete. When dir already
// holds an index built with the same options, only what changed is
// redone: files that are new or whose size or time changed are indexed
// again, files no longer given are dropped (on a copy, swapped in whole).
func Build(ctx context.Context, paths []string, dir string, opt Options) (*Manifest, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	files, err := corpus.Expand(paths)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("index: no input files")
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".building-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // gone after the rename; cleans up after a failure
	if opt.analyzer == "" {
		opt.analyzer = AnalyzerName
	}
	if opt.Embedder != nil && opt.EmbedderName == "" {
		return nil, errors.New("index: an embedder needs a name (Options.EmbedderName)")
	}
	man := &Manifest{Version: 1, Analyzer: opt.analyzer, ChunkChars: opt.ChunkChars, Overlap: opt.Overlap,
		Format: opt.Format.String(), Field: opt.Field, IDField: opt.IDField}
	if opt.Embedder != nil {
		man.Embedder = opt.EmbedderName
	}
	had := map[string]File{}
	var bi bleve.Index
	oldVecs, vecs := &vectors{}, &vectors{} // the old build's, this build's
	if old, err := atomicfile.ReadJSON[Manifest](filepath.Join(dir, manifestName)); err == nil && old.sameOptions(man) {
		// Work on a copy of the old index.
		if err := os.CopyFS(filepath.Join(tmp, bleveName), os.DirFS(filepath.Join(dir, bleveName))); err != nil {
			return nil, fmt.Errorf("index: copying %s: %w", dir, err)
		}
		if bi, err = bleve.Open(filepath.Join(tmp, bleveName)); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		for _, f := range old.Files {
			had[f.Path] = f
		}
		if man.Embedder != "" {
			if oldVecs, err = readVectors(vectorsPath(dir)); err != nil {
				bi.Close()
				return nil, err
			}
		}
	} else if bi, err = bleve.New(filepath.Join(tmp, bleveName), indexMapping(opt.analyzer)); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	given := map[string]bool{}
	unchanged := map[string]bool{} // files whose old chunks and vectors stay
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			bi.Close()
			return nil, err
		}
		given[f] = true
		if old, ok := had[f]; ok {
			if st, err := os.Stat(f); err == nil && st.Size() == old.Size && st.ModTime().UTC().Equal(old.ModTime) {
				man.Files = append(man.Files, old)
				man.Docs += old.Docs
				man.Chunks += old.Chunks
				unchanged[f] = true
				continue
			}
			if err := dropFile(bi, f); err != nil {
				bi.Close()
				return nil, err
			}
		}
		fe, err := addFile(ctx, bi, f, opt, vecs)
		if err != nil {
			bi.Close()
			return nil, err
		}
		man.Files = append(man.Files, *fe)
		man.Docs += fe.Docs
		man.Chunks += fe.Chunks
	}
	for f := range had {
		if !given[f] {
			if err := dropFile(bi, f); err != nil {
				bi.Close()
				return nil, err
			}
		}
	}
	if man.Embedder != "" {
		// The old vectors of unchanged files, then this build's.
		vecs, err = oldVecs.keep(func(id string) bool { return fileOf(id, unchanged) }).merge(vecs)
		if err != nil {
			bi.Close()
			return nil, err
		}
		if err := vecs.write(vectorsPath(tmp)); err != nil {
			bi.Close()
			return nil, err
		}
		man.Dim = vecs.dim
		from := opt.ApproxFrom
		if from == 0 {
			from = DefaultApproxFrom
		}
		if from > 0 && len(vecs.ids) >= from {
			f := buildIVF(vecs)
			if err := f.write(ivfPath(tmp), len(vecs.ids)); err != nil {
				bi.Close()
				return nil, err
			}
			man.Lists = f.nlist()
		}
	}
	if err := bi.Close(); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	man.Built = time.Now().UTC()
	if err := atomicfile.WriteJSON(filepath.Join(tmp, manifestName), man); err != nil {
		return nil, err
	}
	if err := replaceDir(tmp, dir); err != nil {
		return nil, err
	}
	return man, nil
}

// sameOptions reports whether an index built with m's options can be
// updated to n's.
func (m *Manifest) sameOptions(n *Manifest) bool {
	return m.Version == n.Version && m.Analyzer == n.Analyzer && m.ChunkChars == n.ChunkChars && m.Overlap == n.Overlap &&
		m.Format == n.Format && m.Field == n.Field && m.IDField == n.IDField && m.Embedder == n.Embedder
}

// dropFile removes a file's chunks.
func dropFile(bi bleve.Index, path string) error {
	q := bleve.NewTermQuery(path)
	q.SetField("file")
	for {
		req := bleve.NewSearchRequestOptions(q, 10000, 0, false)
		res, err := bi.Search(req)
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		if len(res.Hits) == 0 {
			return nil
		}
		batch := bi.NewBatch()
		for _, h := range res.Hits {
			batch.Delete(h.ID)
		}
		if err := bi.Batch(batch); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
}

// replaceDir moves a finished folder into place: the old one, if any, is
// renamed aside first and removed after.
func replaceDir(tmp, dir string) error {
	old := ""
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, manifestName)); err != nil {
			return fmt.Errorf("index: %s exists and is not an index (no %s): not replacing it", dir, manifestName)
		}
		old = dir + ".old-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// addFile chunks one file's documents into the index, a batch at a time.
func addFile(ctx context.Context, bi bleve.Index, path string, opt Options, vecs *vectors) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	fe := &File{Path: path, Size: st.Size(), ModTime: st.ModTime().UTC()}
	r, err := corpus.Open(path, corpus.Options{Format: opt.Format, Field: opt.Field, IDField: opt.IDField, SkipMissing: true})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	batch := bi.NewBatch()
	var embedIDs, embedTexts []string
	for rec, err := range r.All() {
		if err != nil {
			var re *corpus.RecordError
			if errors.As(err, &re) {
				continue // one bad record does not stop the index
			}
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		doc := path + ":" + strconv.FormatInt(rec.Line, 10)
		if rec.ID != "" {
			doc = path + "#" + rec.ID
		}
		fe.Docs++
		for i, c := range Split(rec.Text, opt.ChunkChars, opt.Overlap) {
			id := doc + "#" + strconv.Itoa(i)
			if err := batch.Index(id, map[string]any{"text": c.Text, "doc": doc, "file": path, "start": c.Start}); err != nil {
				return nil, err
			}
			if opt.Embedder != nil {
				embedIDs, embedTexts = append(embedIDs, id), append(embedTexts, c.Text)
			}
			fe.Chunks++
		}
		if batch.Size() >= 1000 {
			if err := bi.Batch(batch); err != nil {
				return nil, fmt.Errorf("index: %w", err)
			}
			batch.Reset()
		}
	}
	if err := bi.Batch(batch); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if opt.Embedder != nil {
		if err := embedChunks(ctx, opt.Embedder, embedIDs, embedTexts, vecs); err != nil {
			return nil, err
		}
	}
	if opt.Progress != nil {
		opt.Progress(path, fe.Chunks)
	}
	return fe, nil
}

// Piece is a chunk's text and where it starts, in characters.
type Piece struct {
	Text  string
	Start int
}

// Split cuts text into pieces of about size characters that share
// overlap characters with the next, ending where the text breaks best
// within the last fifth of a piece: a paragraph, a line, a sentence, a
// space.
func Split(text string, size, overlap int) []Piece {
	runes := []rune(text)
	var out []Piece
	for start := 0; start < len(runes); {
		end := min(start+size, len(runes))
		if end < len(runes) {
			end = breakAt(runes, start+size*4/5, end)
		}
		lead := 0
		for start+lead < end && unicode.IsSpace(runes[start+lead]) {
			lead++
		}
		if piece := strings.TrimRightFunc(string(runes[start+lead:end]), unicode.IsSpace); piece != "" {
			out = append(out, Piece{Text: piece, Start: start + lead})
		}
		if end >= len(runes) {
			break
		}
		next := max(end-overlap, start+1)
		// Start the next piece at a word, not inside one, where the
		// overlap holds a word boundary.
		for i := next; i < end; i++ {
			if unicode.IsSpace(runes[i-1]) {
				next = i
				break
			}
		}
		start = next
	}
	return out
}

// breakAt finds the best place in [lo, hi) to end a piece: after a blank
// line, a line end, a sentence end or a space, latest first; hi if none.
func breakAt(runes []rune, lo, hi int) int {
	best, rank := hi, 0
	for i := hi - 1; i > lo; i-- {
		r := 0
		switch {
		case runes[i] == '\n' && runes[i-1] == '\n':
			r = 4
		case runes[i] == '\n':
			r = 3
		case unicode.IsSpace(runes[i]) && strings.ContainsRune(".?!。", runes[i-1]):
			r = 2
		case unicode.IsSpace(runes[i]):
			r = 1
		}
		if r > rank {
			best, rank = i+1, r
		}
	}
	return best
}

// Index is an open index.
type Index struct {
	Manifest *Manifest
	bi       bleve.Index
	vecs     *vectors // nil without an embedder
	ivf      *ivf     // nil without an approximate index
	// Probes is how many of the approximate index's lists a vector search
	// scans (0: DefaultProbes); a negative number, or an index without
	// one, scans every vector.
	Probes int
}

// DefaultProbes is the number of lists a vector search scans by default,
// at most all of them (docs/benchmarks.md measures its recall).
const DefaultProbes = 16

// Open opens the index in dir for searching.
func Open(dir string) (*Index, error) {
	man, err := atomicfile.ReadJSON[Manifest](filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", dir, err)
	}
	if man.Version != 1 {
		return nil, fmt.Errorf("index %s: version %d; this Dokja reads version 1: rebuild it", dir, man.Version)
	}
	ix := &Index{Manifest: man}
	if man.Embedder != "" {
		if ix.vecs, err = readVectors(vectorsPath(dir)); err != nil {
			return nil, fmt.Errorf("index %s: %w", dir, err)
		}
		if man.Lists > 0 {
			if ix.ivf, err = readIVF(ivfPath(dir), ix.vecs); err != nil {
				return nil, fmt.Errorf("index %s: %w", dir, err)
			}
		}
	}
	if ix.bi, err = bleve.OpenUsing(filepath.Join(dir, bleveName), map[string]any{"read_only": true}); err != nil {
		return nil, fmt.Errorf("index %s: %w", dir, err)
	}
	return ix, nil
}

// Close releases the index.
func (ix *Index) Close() error { return ix.bi.Close() }

// maxK bounds what one search returns.
const maxK = 1000

// Search returns the k chunks that best match the query by BM25.
func (ix *Index) Search(ctx context.Context, query string, k int) ([]Hit, error) {
	if k < 1 || k > maxK {
		return nil, fmt.Errorf("index: k %d: want 1 to %d", k, maxK)
	}
	if strings.TrimSpace(query) == "" || !utf8.ValidString(query) {
		return nil, errors.New("index: the query is empty or not UTF-8")
	}
	q := bleve.NewMatchQuery(query)
	q.SetField("text")
	req := bleve.NewSearchRequestOptions(q, k, 0, false)
	req.Fields = []string{"text", "doc", "start"}
	res, err := ix.bi.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	hits := make([]Hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		hit := Hit{Chunk: Chunk{ID: h.ID}, Score: h.Score}
		hit.Text, _ = h.Fields["text"].(string)
		hit.Doc, _ = h.Fields["doc"].(string)
		if s, ok := h.Fields["start"].(float64); ok {
			hit.Start = int(s)
		}
		hits = append(hits, hit)
	}
	return hits, nil
}
