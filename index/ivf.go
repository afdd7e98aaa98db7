package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/tensor"
)

// The approximate index for large corpora: an inverted file (IVF, as
// FAISS's IndexIVFFlat). The vectors are clustered by spherical k-means
// into about √n lists; a search scores the centroids, scans the lists of
// the nearest few exactly, and keeps the best k, reading a few percent of
// the vectors. Written here rather than taken from an HNSW library: the
// Go HNSW graphs we tried start their searches from a random node (map
// iteration), so the same query could rank differently run to run, and
// they store every vector a second time; an inverted file is
// deterministic, adds 4 bytes a vector, and its recall is set at search
// time by the number of lists probed.

const ivfName = "vectors.ivf"

var ivfMagic = []byte("DOKJAIVF1\n")

// DefaultApproxFrom is the number of vectors from which a build adds the
// inverted file: below it a flat scan takes a few milliseconds.
const DefaultApproxFrom = 50000

// ivf holds the clusters: unit-length centroids and each one's vectors.
type ivf struct {
	dim       int
	centroids []float32 // nlist × dim
	lists     [][]int32 // vector rows, ascending, per centroid
}

func (f *ivf) nlist() int { return len(f.lists) }

// dot is the dot product of the fastest kernels built in (AVX2 where
// the CPU has it): searches are dominated by it.
func dot(a, b []float32) float32 { return kernels.Dot(a, b) }

var kernels = tensor.Default()

// nearest returns the centroid nearest (largest dot product) to x.
func (f *ivf) nearest(x []float32) int {
	best, bestScore := 0, float32(math.Inf(-1))
	for c := range f.nlist() {
		if s := dot(x, f.centroids[c*f.dim:(c+1)*f.dim]); s > bestScore {
			best, bestScore = c, s
		}
	}
	return best
}

// kmeansRounds is how many times the centroids are recomputed.
const kmeansRounds = 10

// buildIVF clusters v's rows (unit length) into about √n lists. The
// centroids start at rows spread evenly through the data and are fitted
// on at most 64 rows per list, evenly spread too, so the result depends
// on the vectors alone.
func buildIVF(v *vectors) *ivf {
	n := len(v.ids)
	nlist := max(1, int(math.Round(math.Sqrt(float64(n)))))
	f := &ivf{dim: v.dim, centroids: make([]float32, nlist*v.dim), lists: make([][]int32, nlist)}
	row := func(i int) []float32 { return v.data[i*v.dim : (i+1)*v.dim] }
	for c := range nlist {
		copy(f.centroids[c*v.dim:], row(c*n/nlist))
	}
	sampleN := min(n, 64*nlist)
	sample := make([]int, sampleN)
	for i := range sample {
		sample[i] = i * n / sampleN
	}
	assign := make([]int, sampleN)
	for range kmeansRounds {
		tensor.ParallelFor(sampleN, 64, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				assign[i] = f.nearest(row(sample[i]))
			}
		})
		sums := make([]float64, nlist*v.dim)
		counts := make([]int, nlist)
		for i, c := range assign {
			counts[c]++
			for j, x := range row(sample[i]) {
				sums[c*v.dim+j] += float64(x)
			}
		}
		for c := range nlist {
			if counts[c] == 0 {
				continue // an empty cluster keeps its centroid
			}
			var ss float64
			for _, x := range sums[c*v.dim : (c+1)*v.dim] {
				ss += x * x
			}
			if ss == 0 {
				continue
			}
			inv := 1 / math.Sqrt(ss)
			for j := range v.dim {
				f.centroids[c*v.dim+j] = float32(sums[c*v.dim+j] * inv)
			}
		}
	}
	all := make([]int, n)
	tensor.ParallelFor(n, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			all[i] = f.nearest(row(i))
		}
	})
	for i, c := range all {
		f.lists[c] = append(f.lists[c], int32(i))
	}
	return f
}

// search returns the rows of the k vectors nearest q among the lists of
// the probes nearest centroids, best first, with their dot products.
func (f *ivf) search(v *vectors, q []float32, k, probes int) ([]int, []float32) {
	type scored struct {
		i int
		s float32
	}
	cs := make([]scored, f.nlist())
	for c := range cs {
		cs[c] = scored{c, dot(q, f.centroids[c*f.dim:(c+1)*f.dim])}
	}
	slices.SortFunc(cs, func(a, b scored) int { return cmpScore(a.s, b.s, a.i, b.i) })
	t := newTopK(k)
	for _, c := range cs[:min(probes, len(cs))] {
		for _, i := range f.lists[c.i] {
			t.offer(int(i), dot(q, v.data[int(i)*v.dim:(int(i)+1)*v.dim]))
		}
	}
	rows, scores := t.rows, t.scores
	return rows, scores
}

// cmpScore orders by score, higher first, then by row.
func cmpScore(a, b float32, i, j int) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return i - j
}

func ivfPath(dir string) string { return filepath.Join(dir, ivfName) }

// write stores the centroids and each vector's list, in row order.
func (f *ivf) write(path string, n int) error {
	of := make([]uint32, n)
	for c, l := range f.lists {
		for _, i := range l {
			of[i] = uint32(c)
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.Write(ivfMagic)
		binary.Write(bw, binary.LittleEndian, [3]uint32{uint32(f.dim), uint32(f.nlist()), uint32(n)})
		binary.Write(bw, binary.LittleEndian, f.centroids)
		if err := binary.Write(bw, binary.LittleEndian, of); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// readIVF reads an inverted file for the vectors v, checking that it
// belongs to them: the same width and count, every list in range, the
// file exactly as long as its header says.
func readIVF(path string, v *vectors) (*ivf, error) {
	f, r, size, err := openTagged(path, ivfMagic, "an inverted-file index")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := func(what string) error { return fmt.Errorf("%s: %s", path, what) }
	var h [3]uint32
	if err := binary.Read(r, binary.LittleEndian, &h); err != nil {
		return nil, bad("truncated header")
	}
	dim, nlist, n := int(h[0]), int(h[1]), int(h[2])
	if dim != v.dim || n != len(v.ids) || nlist < 1 || nlist > n {
		return nil, bad(fmt.Sprintf("built for %d vectors of %d values in %d lists; the index holds %d of %d", n, dim, nlist, len(v.ids), v.dim))
	}
	if want := int64(len(ivfMagic)) + 12 + 4*int64(nlist)*int64(dim) + 4*int64(n); size != want {
		return nil, bad(fmt.Sprintf("%d bytes, the header implies %d", size, want))
	}
	out := &ivf{dim: dim, centroids: make([]float32, nlist*dim), lists: make([][]int32, nlist)}
	if err := binary.Read(r, binary.LittleEndian, out.centroids); err != nil {
		return nil, bad("truncated centroids")
	}
	of := make([]uint32, n)
	if err := binary.Read(r, binary.LittleEndian, of); err != nil {
		return nil, bad("truncated lists")
	}
	for i, c := range of {
		if int(c) >= nlist {
			return nil, bad(fmt.Sprintf("vector %d in list %d of %d", i, c, nlist))
		}
		out.lists[c] = append(out.lists[c], int32(i))
	}
	return out, nil
}
