package dedup

import (
	"fmt"
	"math"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// Options configure fuzzy deduplication: how documents become shingle
// sets, how long the MinHash signature is, how it is cut into LSH bands,
// and whether candidates are verified. The zero value is not valid: start
// from DefaultOptions and override (a YAML document decoded over
// DefaultOptions() keeps the defaults of the fields it does not name).
type Options struct {
	// Unit is what a shingle is made of: "char" (the default) for runs of
	// Shingle characters, or "word" for runs of Shingle space-separated
	// words. Character shingles suit Korean, where one word (eojeol)
	// carries its particles and endings ("영화가", "영화를", "영화는"), so
	// that word shingles miss most of the overlap between two texts.
	// Character shingles are taken with the spaces removed: Korean spacing
	// (띄어쓰기) varies freely between copies of the same text.
	Unit string `yaml:"unit"`
	// Shingle is the n-gram length in Units; 0 (the default) means the
	// Unit's default, 3 characters or 5 words. See DefaultOptions.
	Shingle int `yaml:"shingle"`
	// Hashes is the signature length; it must equal Bands*Rows.
	Hashes int `yaml:"hashes"`
	// Bands and Rows cut the signature into Bands bands of Rows values;
	// two documents become candidates when any band agrees in full.
	Bands int `yaml:"bands"`
	Rows  int `yaml:"rows"`
	// Seed chooses the hash functions. Signatures and band keys are only
	// comparable under the same Seed, Unit, Shingle and Hashes.
	Seed uint64 `yaml:"seed"`
	// Threshold, if > 0, makes Index.Resolve verify each candidate pair
	// found by LSH: the pair is joined only when its signature-estimated
	// Jaccard similarity is at least Threshold. 0 joins every candidate,
	// as datatrove does. Verification needs the signatures in the Index
	// (Hashes bytes per document).
	Threshold float64 `yaml:"threshold"`
}

// Limits that Validate enforces, to bound the work and memory that a
// configuration file can ask for.
const (
	maxShingle = 64
	maxHashes  = 4096
)

// Default shingle lengths by Unit.
const (
	defaultCharShingle = 3
	defaultWordShingle = 5
)

// DefaultOptions returns the defaults: character 3-shingles, 120 hashes
// in 20 bands of 6 rows (LSH threshold 0.607), candidates verified at an
// estimated Jaccard similarity of 0.5.
//
// They were tuned on Korean text, on TestPlanted's set: 3,800 real
// reviews and documents of 5-10 reviews, 3,100 near-duplicates of a
// subset made by 2-10% character edits, spacing and punctuation changes,
// sentence swaps, and a sentence appended or dropped, and 200 documents
// that share 1-3 reviews with another (related, not duplicates). Pairwise
// precision and recall, verifying at 0.5:
//
//	shingle  bands×rows  LSH thr.  precision  recall
//	5 chars  14×8 (112)  0.719     1.000      0.633 (edits of 6-10% mostly lost)
//	4 chars  14×8        0.719     1.000      0.707
//	4 chars  18×5 (90)   0.561     1.000      0.859
//	4 chars  20×6 (120)  0.607     1.000      0.824
//	3 chars  14×8        0.719     0.9995     0.794
//	3 chars  16×7 (112)  0.673     0.9995     0.847
//	3 chars  20×6 (120)  0.607     0.9996     0.922  <- default (0.915-0.920 on 4 other seeds)
//	3 chars  24×6 (144)  0.589     0.9996     0.938
//	3 chars  20×5 (100)  0.549     0.9998     0.955 (S-curve too shallow: below)
//	2 chars  20×6        0.607     0.998      0.984 (unrelated texts too alike: below)
//
// Each character edit changes every shingle that spans it, so a fraction
// p of edits leaves about (1-p)^k of the k-shingles intact: at p = 10%
// that is a Jaccard similarity of 0.57 for k = 3 but 0.42 for k = 5, under
// any usable LSH threshold. Shorter shingles keep edited copies similar;
// the price is a higher similarity between unrelated texts, growing with
// their length. Unrelated NSMC reviews (80 characters) have median
// Jaccard 0.000 (p99 0.049) in 3-shingles; reviews concatenated into
// documents of 2,300 characters, 0.025 (max 0.054), and of 7,600, 0.049
// (max 0.063; TestUnrelatedJaccard), against 0.16 in 2-shingles (too
// close to the candidate range) and 0.004 in 5-shingles. At 0.05,
// 20×6 bands make a pair a candidate with probability 3·10^-7, which over
// the 10^11-10^12 pairs of a large corpus of long documents is 10^4-10^5
// false candidates: so the default verifies candidates (Threshold 0.5;
// without it the planted set gives precision 0.997, recall 0.924). Rows 6
// keeps the LSH S-curve steep: a pair of similarity 0.3 is a candidate
// with probability 0.014, one of 0.9 with probability above 0.999999; 20×5
// reaches higher recall but makes 0.3-similar pairs candidates 5% of the
// time. 24×6 buys 1.5 points of recall for 20% more hashing.
//
// The word unit's 5-word shingles are the usual choice for English
// (datatrove, text-dedup).
func DefaultOptions() Options {
	return Options{
		Unit:      "char",
		Hashes:    120,
		Bands:     20,
		Rows:      6,
		Seed:      1,
		Threshold: 0.5,
	}
}

// ShingleSize returns the shingle length in effect: Shingle, or the Unit's
// default when Shingle is 0.
func (o Options) ShingleSize() int {
	if o.Shingle != 0 {
		return o.Shingle
	}
	if o.Unit == "word" {
		return defaultWordShingle
	}
	return defaultCharShingle
}

// Validate reports the first field that is out of range.
func (o Options) Validate() error {
	switch {
	case o.Unit != "char" && o.Unit != "word":
		return fmt.Errorf("dedup: unit %q: expected \"char\" or \"word\"", o.Unit)
	case o.Shingle < 0 || o.Shingle > maxShingle:
		return fmt.Errorf("dedup: shingle %d: expected 1 to %d, or 0 for the unit's default", o.Shingle, maxShingle)
	case o.Hashes < 1 || o.Hashes > maxHashes:
		return fmt.Errorf("dedup: hashes %d: expected 1 to %d", o.Hashes, maxHashes)
	case o.Bands < 1:
		return fmt.Errorf("dedup: bands %d: expected at least 1", o.Bands)
	case o.Rows < 1:
		return fmt.Errorf("dedup: rows %d: expected at least 1", o.Rows)
	case o.Bands*o.Rows != o.Hashes:
		return fmt.Errorf("dedup: bands %d × rows %d = %d: expected hashes (%d)",
			o.Bands, o.Rows, o.Bands*o.Rows, o.Hashes)
	case !(o.Threshold >= 0 && o.Threshold <= 1): // also rejects NaN
		return fmt.Errorf("dedup: threshold %v: expected 0 (no verification) to 1", o.Threshold)
	}
	return nil
}

// LSHThreshold is the Jaccard similarity s at which two documents become
// LSH candidates with probability 1/2, approximately (1/b)^(1/r) for b
// bands of r rows. A pair of similarity s is a candidate with probability
// 1-(1-s^r)^b: the S-curve that rises steeply around this point.
func (o Options) LSHThreshold() float64 {
	if o.Bands < 1 || o.Rows < 1 {
		return math.NaN()
	}
	return math.Pow(1/float64(o.Bands), 1/float64(o.Rows))
}

// EmptyValue fills every slot of the signature of a document with no
// shingles: one that is empty, or holds only punctuation, symbols and
// white space. No other document's signature holds this value anywhere
// (hash values are capped one below it), Bands returns no band keys for
// it, Index.Add ignores it and Jaccard rates it 0 against anything, so
// empty documents never become fuzzy duplicates of each other or of
// anything else. Drop them, or catch them with ExactKey, before or after.
const EmptyValue = math.MaxUint32

// IsEmpty reports whether sig is the signature of a document without
// shingles (see EmptyValue).
func IsEmpty(sig []uint32) bool {
	return len(sig) > 0 && sig[0] == EmptyValue
}

// MinHasher computes MinHash signatures and LSH band keys. It holds only
// read-only state (and a pool of scratch buffers), so one MinHasher may be
// shared by any number of goroutines.
//
// Hashing is "one hash and k permutations": each shingle is hashed once
// with xxhash64 to a 64-bit x, and the i-th of the Hashes hash functions
// is h_i(x) = high 32 bits of a_i·x mod 2^64, with a_i odd and drawn from
// Seed. x ↦ a_i·x is a permutation of the 64-bit words (multiplicative
// hashing), and as x is already a strong hash of the shingle the minima
// under different a_i behave as independent min-wise samples:
// TestSignatureAccuracy checks that the estimates are unbiased with the
// binomial spread. One 64-bit multiply and a compare per shingle and hash
// function, where the textbook (a_i·x + b_i) mod (2^61-1) of datasketch
// and text-dedup needs a 128-bit product, a carry and a modular
// reduction: twice the time here, for nothing to gain in accuracy, which
// is binomial already. (Both families share one blind spot: shingle hashes
// that differ by a multiple of a large power of two, which random 64-bit
// hashes almost never do.)
type MinHasher struct {
	o    Options
	a    []uint64  // odd multipliers, one per hash function
	bufs sync.Pool // *scratch
}

// scratch is the per-call working memory of Signature.
type scratch struct {
	text   []byte // the normalized text
	norm   normScratch
	offs   []int    // rune or word boundaries in text
	hashes []uint64 // shingle hashes
}

// NewMinHasher returns a MinHasher for o, or o's Validate error.
func NewMinHasher(o Options) (*MinHasher, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	m := &MinHasher{o: o, a: make([]uint64, o.Hashes)}
	s := o.Seed ^ 0x5851f42d4c957f2d
	for i := range m.a {
		m.a[i] = splitmix(&s) | 1
	}
	m.bufs.New = func() any { return new(scratch) }
	return m, nil
}

// Options returns the options m was made with.
func (m *MinHasher) Options() Options { return m.o }

// Signature returns the MinHash signature of text: Hashes values, each the
// minimum of one hash function over the shingles of Normalize(text). It
// reuses dst's storage when it is large enough. A text shorter than one
// shingle is one shingle, the whole of it; a text with no shingles at all
// gets the empty signature (see EmptyValue). Any input, including invalid
// UTF-8, is accepted.
func (m *MinHasher) Signature(text string, dst []uint32) []uint32 {
	n := m.o.Hashes
	if cap(dst) < n {
		dst = make([]uint32, n)
	}
	sig := dst[:n]
	s := m.bufs.Get().(*scratch)
	s.text = appendNormalized(s.text[:0], &s.norm, text)
	s.hashes = m.shingleHashes(s)
	if len(s.hashes) == 0 {
		for i := range sig {
			sig[i] = EmptyValue
		}
	} else {
		minhash(sig, m.a, s.hashes)
	}
	m.bufs.Put(s)
	return sig
}

// minhash sets sig[i] to the high 32 bits of the minimum over xs of
// a[i]·x (mod 2^64), capped below EmptyValue. The high bits of the
// minimum are the minimum of the high bits, so the shift waits for the
// end. Four hash functions go through xs together: more would not stay
// in registers.
func minhash(sig []uint32, a []uint64, xs []uint64) {
	a = a[:len(sig)]
	i := 0
	for ; i+4 <= len(sig); i += 4 {
		a0, a1, a2, a3 := a[i], a[i+1], a[i+2], a[i+3]
		m0, m1, m2, m3 := ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)
		for _, x := range xs {
			m0 = min(m0, a0*x)
			m1 = min(m1, a1*x)
			m2 = min(m2, a2*x)
			m3 = min(m3, a3*x)
		}
		sig[i], sig[i+1], sig[i+2], sig[i+3] = uint32(m0>>32), uint32(m1>>32), uint32(m2>>32), uint32(m3>>32)
	}
	for ; i < len(sig); i++ {
		ai, m := a[i], ^uint64(0)
		for _, x := range xs {
			m = min(m, ai*x)
		}
		sig[i] = uint32(m >> 32)
	}
	for i, v := range sig {
		if v == EmptyValue {
			sig[i] = v - 1 // keep EmptyValue for empty documents only
		}
	}
}

// shingleHashes sets s.hashes to the hash of every shingle of
// s.text (already normalized). Character shingles are taken over the text
// without its spaces.
func (m *MinHasher) shingleHashes(s *scratch) []uint64 {
	return appendShingleHashes(s.hashes[:0], &s.offs, s.text, m.o.Unit, m.o.ShingleSize())
}

// appendShingleHashes appends the hash of each shingle of the normalized
// text t to dst. offs is scratch space for boundaries.
func appendShingleHashes(dst []uint64, offs *[]int, t []byte, unit string, k int) []uint64 {
	o := (*offs)[:0]
	if unit == "word" {
		// Word i is t[o[2i]:o[2i+1]]; normalized text has single spaces.
		start := 0
		for i, c := range t {
			if c == ' ' {
				o = append(o, start, i)
				start = i + 1
			}
		}
		if start < len(t) {
			o = append(o, start, len(t))
		}
		*offs = o
		words := len(o) / 2
		if words == 0 {
			return dst
		}
		if words < k {
			return append(dst, xxhash.Sum64(t))
		}
		for i := 0; i+k <= words; i++ {
			dst = append(dst, xxhash.Sum64(t[o[2*i]:o[2*(i+k)-1]]))
		}
		return dst
	}
	// Characters: drop the spaces in place, then slide a window of k runes.
	w := 0
	for _, c := range t {
		if c != ' ' {
			t[w] = c
			w++
		}
	}
	t = t[:w]
	for i := 0; i < len(t); i += runeLen(t[i]) {
		o = append(o, i)
	}
	o = append(o, len(t))
	*offs = o
	runes := len(o) - 1
	if runes == 0 {
		return dst
	}
	if runes < k {
		return append(dst, xxhash.Sum64(t))
	}
	for i := 0; i+k <= runes; i++ {
		dst = append(dst, xxhash.Sum64(t[o[i]:o[i+k]]))
	}
	return dst
}

// runeLen returns the length of the UTF-8 sequence that starts with c, in
// valid UTF-8 (which normalized text is).
func runeLen(c byte) int {
	switch {
	case c < 0xe0:
		return 1 + int(c>>7) // 0xxxxxxx: 1, 110xxxxx: 2
	case c < 0xf0:
		return 3
	}
	return 4
}

// splitmix is the SplitMix64 generator: it advances *s and returns the
// next value.
func splitmix(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	return mix64(*s)
}

// mix64 is SplitMix64's finalizer, a bijection on 64-bit words.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Bands returns the LSH band keys of sig: one 64-bit key per band, a hash
// of the band's Rows values with the band index and Seed mixed in. Two
// documents share a band key when they agree on the whole band, and
// otherwise with probability about 2^-64. The empty signature has no band
// keys: Bands returns dst[:0]. It reuses dst's storage when it is large
// enough, and panics if len(sig) is not Hashes.
func (m *MinHasher) Bands(sig []uint32, dst []uint64) []uint64 {
	if len(sig) != m.o.Hashes {
		panic(fmt.Sprintf("dedup: Bands: signature of %d values, expected %d", len(sig), m.o.Hashes))
	}
	dst = dst[:0]
	if IsEmpty(sig) {
		return dst
	}
	r := m.o.Rows
	for band := range m.o.Bands {
		h := mix64(m.o.Seed ^ uint64(band+1)*0x9e3779b97f4a7c15)
		rows := sig[band*r : band*r+r]
		// Two values to a word; each step is a bijection of the state.
		for len(rows) >= 2 {
			h = mix64(h ^ (uint64(rows[0]) | uint64(rows[1])<<32))
			rows = rows[2:]
		}
		if len(rows) == 1 {
			h = mix64(h ^ uint64(rows[0]))
		}
		dst = append(dst, h)
	}
	return dst
}

// Jaccard estimates the Jaccard similarity of the shingle sets behind two
// signatures: the fraction of positions where they agree. The estimate has
// standard deviation sqrt(J(1-J)/Hashes), 0.046 at J = 0.5 for 120 hashes.
// It returns 0 when the lengths differ, for empty signatures and when
// either document is empty (see EmptyValue).
func Jaccard(sigA, sigB []uint32) float64 {
	if len(sigA) != len(sigB) || len(sigA) == 0 || IsEmpty(sigA) || IsEmpty(sigB) {
		return 0
	}
	same := 0
	for i, v := range sigA {
		if sigB[i] == v {
			same++
		}
	}
	return float64(same) / float64(len(sigA))
}

// ShingleJaccard returns the exact Jaccard similarity of the shingle sets
// of Normalize(a) and Normalize(b) under o's Unit and Shingle (the other
// fields are not used), as Signature sees them: what Jaccard estimates. It
// is for tests and evaluation, not speed. A text without shingles rates 0
// against anything, as in Jaccard. It returns NaN when o's Unit or Shingle
// is invalid.
func ShingleJaccard(a, b string, o Options) float64 {
	if (o.Unit != "char" && o.Unit != "word") || o.Shingle < 0 || o.Shingle > maxShingle {
		return math.NaN()
	}
	k := o.ShingleSize()
	set := func(text string) map[uint64]bool {
		var offs []int
		hs := appendShingleHashes(nil, &offs, []byte(Normalize(text)), o.Unit, k)
		m := make(map[uint64]bool, len(hs))
		for _, h := range hs {
			m[h] = true
		}
		return m
	}
	sa, sb := set(a), set(b)
	if len(sa) == 0 || len(sb) == 0 {
		return 0
	}
	inter := 0
	for h := range sa {
		if sb[h] {
			inter++
		}
	}
	return float64(inter) / float64(len(sa)+len(sb)-inter)
}
