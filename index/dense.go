package index

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/blevesearch/bleve/v2"
	"github.com/dokja/dokja/atomicfile"
)

// Dense vectors beside BM25: every chunk's embedding from an encoder,
// searched exactly (a flat scan: tens of thousands of chunks take a few
// milliseconds), and fused with BM25 by reciprocal rank.

// Embedder turns texts into vectors (an encoder behind it).
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

const vectorsName = "vectors.bin"

var vectorsMagic = []byte("DOKJAVEC1\n")

// vectors are the chunks' embeddings, unit length, row by row.
type vectors struct {
	dim  int
	ids  []string
	data []float32
}

func (v *vectors) add(id string, vec []float32) error {
	if v.dim == 0 {
		v.dim = len(vec)
	}
	if len(vec) != v.dim || v.dim == 0 {
		return fmt.Errorf("index: the embedder gave a vector of %d values after ones of %d", len(vec), v.dim)
	}
	var ss float64
	for _, x := range vec {
		ss += float64(x) * float64(x)
	}
	inv := float32(1)
	if ss > 0 {
		inv = float32(1 / math.Sqrt(ss))
	}
	v.ids = append(v.ids, id)
	for _, x := range vec {
		v.data = append(v.data, x*inv)
	}
	return nil
}

// keep returns the vectors whose chunk ids pass.
func (v *vectors) keep(ok func(id string) bool) *vectors {
	out := &vectors{dim: v.dim}
	for i, id := range v.ids {
		if ok(id) {
			out.ids = append(out.ids, id)
			out.data = append(out.data, v.data[i*v.dim:(i+1)*v.dim]...)
		}
	}
	return out
}

func (v *vectors) write(path string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.Write(vectorsMagic)
		binary.Write(bw, binary.LittleEndian, uint32(v.dim))
		binary.Write(bw, binary.LittleEndian, uint32(len(v.ids)))
		for i, id := range v.ids {
			binary.Write(bw, binary.LittleEndian, uint32(len(id)))
			bw.WriteString(id)
			if err := binary.Write(bw, binary.LittleEndian, v.data[i*v.dim:(i+1)*v.dim]); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}

// openTagged opens one of the index's binary files: it must start with
// magic, or the error says it is not what. It returns the file (for the
// caller to close), a reader past the magic, and the file's size.
func openTagged(path string, magic []byte, what string) (*os.File, *bufio.Reader, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	r := bufio.NewReader(f)
	got := make([]byte, len(magic))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != string(magic) {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s: not %s", path, what)
	}
	return f, r, st.Size(), nil
}

func readVectors(path string) (*vectors, error) {
	f, r, size, err := openTagged(path, vectorsMagic, "a vectors file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := func(what string) error { return fmt.Errorf("%s: %s", path, what) }
	var dim, n uint32
	if binary.Read(r, binary.LittleEndian, &dim) != nil || binary.Read(r, binary.LittleEndian, &n) != nil || dim == 0 || dim > 1<<16 {
		return nil, bad("bad header")
	}
	// Every entry takes at least 4 bytes of length and dim floats: the
	// header cannot promise more entries than the file holds.
	if uint64(n)*(4+4*uint64(dim)) > uint64(size) {
		return nil, bad("the header counts more vectors than the file holds")
	}
	v := &vectors{dim: int(dim), ids: make([]string, 0, n), data: make([]float32, 0, int(n)*int(dim))}
	row := make([]float32, dim)
	for range n {
		var l uint32
		if err := binary.Read(r, binary.LittleEndian, &l); err != nil || l > 1<<16 {
			return nil, bad("bad entry")
		}
		id := make([]byte, l)
		if _, err := io.ReadFull(r, id); err != nil {
			return nil, bad("truncated")
		}
		if err := binary.Read(r, binary.LittleEndian, row); err != nil {
			return nil, bad("truncated")
		}
		v.ids = append(v.ids, string(id))
		v.data = append(v.data, row...)
	}
	return v, nil
}

// embedChunks embeds chunks a batch at a time into v.
func embedChunks(ctx context.Context, e Embedder, ids, texts []string, v *vectors) error {
	for lo := 0; lo < len(texts); lo += 32 {
		hi := min(lo+32, len(texts))
		vecs, err := e.Embed(ctx, texts[lo:hi])
		if err != nil {
			return fmt.Errorf("index: embedding: %w", err)
		}
		if len(vecs) != hi-lo {
			return errors.New("index: the embedder returned another number of vectors than texts")
		}
		for i, vec := range vecs {
			if err := v.add(ids[lo+i], vec); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileOf reports whether chunk id belongs to a document of one of files:
// an id is the file, ":" or "#", then the rest, so each place a
// separator stands is one lookup.
func fileOf(id string, files map[string]bool) bool {
	for i := 0; i < len(id); i++ {
		if (id[i] == ':' || id[i] == '#') && files[id[:i]] {
			return true
		}
	}
	return false
}

// merge appends w's vectors to v's.
func (v *vectors) merge(w *vectors) (*vectors, error) {
	switch {
	case len(w.ids) == 0:
		return v, nil
	case len(v.ids) == 0:
		return w, nil
	case v.dim != w.dim:
		return nil, fmt.Errorf("index: the embedder gives vectors of %d values; the index holds %d", w.dim, v.dim)
	}
	return &vectors{dim: v.dim, ids: append(v.ids, w.ids...), data: append(v.data, w.data...)}, nil
}

// Dense reports whether the index holds vectors.
func (ix *Index) Dense() bool { return ix.vecs != nil }

// SearchVector returns the k chunks whose vectors are closest to q
// (cosine similarity, the score).
func (ix *Index) SearchVector(ctx context.Context, q []float32, k int) ([]Hit, error) {
	if ix.vecs == nil {
		return nil, errors.New("index: built without an embedding model (dokja index build --embedding-model)")
	}
	if k < 1 || k > maxK {
		return nil, fmt.Errorf("index: k %d: want 1 to %d", k, maxK)
	}
	v := ix.vecs
	if len(q) != v.dim {
		return nil, fmt.Errorf("index: a query vector of %d values; the index holds %d", len(q), v.dim)
	}
	var ss float64
	for _, x := range q {
		ss += float64(x) * float64(x)
	}
	var rows []int
	var scores []float32
	if probes := ix.Probes; ix.ivf != nil && probes >= 0 {
		if probes == 0 {
			probes = DefaultProbes
		}
		rows, scores = ix.ivf.search(v, q, k, probes)
	} else {
		rows, scores = v.flat(q, k)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = v.ids[r]
	}
	chunks, err := ix.chunks(ctx, ids)
	if err != nil {
		return nil, err
	}
	norm := float32(1)
	if ss > 0 {
		norm = float32(1 / math.Sqrt(ss))
	}
	hits := make([]Hit, 0, len(rows))
	for i := range rows {
		if c, ok := chunks[ids[i]]; ok {
			hits = append(hits, Hit{Chunk: c, Score: float64(scores[i] * norm)})
		}
	}
	return hits, nil
}

// flat scores every vector against q and returns the best k rows, best
// first, with their dot products.
func (v *vectors) flat(q []float32, k int) ([]int, []float32) {
	t := newTopK(k)
	for i := range v.ids {
		t.offer(i, dot(q, v.data[i*v.dim:(i+1)*v.dim]))
	}
	return t.rows, t.scores
}

// topK keeps the k best (score, row) pairs offered, best first (ties to
// the smaller row), in a sorted slice: a candidate below the k-th costs
// one comparison, which is nearly every one when k is small.
type topK struct {
	k      int
	rows   []int
	scores []float32
}

func newTopK(k int) *topK {
	return &topK{k: k, rows: make([]int, 0, k+1), scores: make([]float32, 0, k+1)}
}

func (t *topK) offer(row int, s float32) {
	n := len(t.rows)
	if t.k <= 0 || n == t.k && cmpScore(s, t.scores[n-1], row, t.rows[n-1]) >= 0 {
		return
	}
	at := n
	for at > 0 && cmpScore(s, t.scores[at-1], row, t.rows[at-1]) < 0 {
		at--
	}
	t.rows = slices.Insert(t.rows, at, row)
	t.scores = slices.Insert(t.scores, at, s)
	if len(t.rows) > t.k {
		t.rows, t.scores = t.rows[:t.k], t.scores[:t.k]
	}
}

// chunks fetches stored chunks by id.
func (ix *Index) chunks(ctx context.Context, ids []string) (map[string]Chunk, error) {
	req := bleve.NewSearchRequestOptions(bleve.NewDocIDQuery(ids), len(ids), 0, false)
	req.Fields = []string{"text", "doc", "start"}
	res, err := ix.bi.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	out := make(map[string]Chunk, len(res.Hits))
	for _, h := range res.Hits {
		c := Chunk{ID: h.ID}
		c.Text, _ = h.Fields["text"].(string)
		c.Doc, _ = h.Fields["doc"].(string)
		if s, ok := h.Fields["start"].(float64); ok {
			c.Start = int(s)
		}
		out[h.ID] = c
	}
	return out, nil
}

// rrfK is reciprocal rank fusion's constant (Cormack et al., 2009).
const rrfK = 60

// Fuse merges ranked lists by reciprocal rank fusion: a chunk's score is
// the sum over the lists of 1/(60 + its rank there).
func Fuse(k int, lists ...[]Hit) []Hit {
	score := map[string]float64{}
	first := map[string]Hit{}
	for _, l := range lists {
		for r, h := range l {
			score[h.ID] += 1 / float64(rrfK+r+1)
			if _, ok := first[h.ID]; !ok {
				first[h.ID] = h
			}
		}
	}
	out := make([]Hit, 0, len(score))
	for id, s := range score {
		h := first[id]
		h.Score = s
		out = append(out, h)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Score != out[b].Score {
			return out[a].Score > out[b].Score
		}
		return out[a].ID < out[b].ID
	})
	return out[:min(k, len(out))]
}

// SearchDense embeds the query with e and returns the k chunks closest
// to it.
func (ix *Index) SearchDense(ctx context.Context, query string, e Embedder, k int) ([]Hit, error) {
	qv, err := e.Embed(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("index: embedding the query: %w", err)
	}
	return ix.SearchVector(ctx, qv[0], k)
}

// SearchHybrid fuses BM25's and the vectors' best 50 for the query
// (embedded by e) into k hits.
func (ix *Index) SearchHybrid(ctx context.Context, query string, e Embedder, k int) ([]Hit, error) {
	bm, err := ix.Search(ctx, query, 50)
	if err != nil {
		return nil, err
	}
	dn, err := ix.SearchDense(ctx, query, e, 50)
	if err != nil {
		return nil, err
	}
	return Fuse(k, bm, dn), nil
}

func vectorsPath(dir string) string { return filepath.Join(dir, vectorsName) }
