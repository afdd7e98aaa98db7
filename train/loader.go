package train

import (
	"fmt"

	"github.com/dokja/dokja/model"
)

// Source is a token stream that can be read at any offset: a set of token
// shards (shards.Set), or memory in tests.
type Source interface {
	Len() int64
	Separator() int
	Read(off int64, dst []int32) error
}

// Loader cuts a source into windows of SeqLen+1 tokens at stride SeqLen
// (inputs and their next-token targets) and serves them in an order that
// is shuffled afresh each epoch by a keyed permutation. The order depends
// only on the seed, so the loader's whole state is Next, the number of
// windows served: saving it in a checkpoint resumes the exact data order.
type Loader struct {
	src     Source
	seqLen  int
	windows int64
	seed    uint64
	shuffle bool
	// Next is how many windows have been served since the start.
	Next int64
	buf  []int32
}

// NewLoader returns a loader over src. Without shuffle, windows come in
// stream order (validation).
func NewLoader(src Source, seqLen int, seed uint64, shuffle bool) (*Loader, error) {
	if seqLen < 1 {
		return nil, fmt.Errorf("seq_len %d: must be at least 1", seqLen)
	}
	w := (src.Len() - 1) / int64(seqLen)
	if w < 1 {
		return nil, fmt.Errorf("the data has %d tokens, fewer than one window of seq_len+1 = %d", src.Len(), seqLen+1)
	}
	return &Loader{src: src, seqLen: seqLen, windows: w, seed: seed, shuffle: shuffle, buf: make([]int32, seqLen+1)}, nil
}

// Windows is the number of windows in one epoch.
func (l *Loader) Windows() int64 { return l.windows }

// Epoch is the 0-based epoch the next window comes from.
func (l *Loader) Epoch() int64 { return l.Next / l.windows }

// window returns the stream index of the n-th window served.
func (l *Loader) window(n int64) int64 {
	epoch, i := n/l.windows, n%l.windows
	if !l.shuffle {
		return i
	}
	return permute(i, l.windows, l.seed^uint64(epoch)*0x9E3779B97F4A7C15)
}

// Batch returns the next seqs windows as a training batch.
func (l *Loader) Batch(seqs int) (*model.Batch, error) {
	T := l.seqLen
	b := &model.Batch{Seqs: seqs, Sep: l.src.Separator(), Inputs: make([]int, 0, seqs*T), Targets: make([]int, 0, seqs*T)}
	for range seqs {
		w := l.window(l.Next)
		if err := l.src.Read(w*int64(T), l.buf); err != nil {
			return nil, err
		}
		l.Next++
		for i := range T {
			b.Inputs = append(b.Inputs, int(l.buf[i]))
			b.Targets = append(b.Targets, int(l.buf[i+1]))
		}
	}
	return b, nil
}

// permute maps i ∈ [0, n) to a position in a pseudo-random permutation of
// [0, n) chosen by key: a four-round Feistel network over the smallest
// even power of two ≥ n, walking the cycle until it lands inside [0, n).
// It needs no memory, so corpora of billions of windows shuffle freely.
func permute(i, n int64, key uint64) int64 {
	bits := 2
	for int64(1)<<bits < n {
		bits += 2
	}
	half := bits / 2
	mask := uint64(1)<<half - 1
	x := uint64(i)
	for {
		l, r := x>>half, x&mask
		for round := range uint64(4) {
			l, r = r, l^(mix(r^key+round*0xBF58476D1CE4E5B9)&mask)
		}
		x = l<<half | r
		if int64(x) < n {
			return int64(x)
		}
	}
}

// mix is SplitMix64's finaliser.
func mix(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}
