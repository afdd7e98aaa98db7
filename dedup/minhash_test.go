package dedup

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("DefaultOptions: %v", err)
	}
	word := DefaultOptions()
	word.Unit = "word"
	if err := word.Validate(); err != nil {
		t.Fatalf("word unit: %v", err)
	}
	if word.ShingleSize() != 5 || DefaultOptions().ShingleSize() != 3 {
		t.Errorf("default shingle sizes: word %d, char %d", word.ShingleSize(), DefaultOptions().ShingleSize())
	}
	for _, c := range []struct {
		edit func(*Options)
		want string // in the error
	}{
		{func(o *Options) { o.Unit = "" }, `unit ""`},
		{func(o *Options) { o.Unit = "byte" }, `unit "byte": expected "char" or "word"`},
		{func(o *Options) { o.Shingle = -1 }, "shingle -1: expected 1 to 64"},
		{func(o *Options) { o.Shingle = 65 }, "shingle 65"},
		{func(o *Options) { o.Hashes = 0 }, "hashes 0: expected 1 to 4096"},
		{func(o *Options) { o.Hashes, o.Bands, o.Rows = 5000, 1000, 5 }, "hashes 5000"},
		{func(o *Options) { o.Bands = 0 }, "bands 0: expected at least 1"},
		{func(o *Options) { o.Rows = -2 }, "rows -2: expected at least 1"},
		{func(o *Options) { o.Bands = 14 }, "bands 14 × rows 6 = 84: expected hashes (120)"},
		{func(o *Options) { o.Threshold = 1.5 }, "threshold 1.5: expected 0 (no verification) to 1"},
		{func(o *Options) { o.Threshold = -0.1 }, "threshold -0.1"},
		{func(o *Options) { o.Threshold = math.NaN() }, "threshold NaN"},
	} {
		o := DefaultOptions()
		c.edit(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", o, err, c.want)
		}
		if _, err := NewMinHasher(o); err == nil {
			t.Errorf("NewMinHasher(%+v) accepted invalid options", o)
		}
	}
}

func TestLSHThreshold(t *testing.T) {
	o := DefaultOptions()
	if got := o.LSHThreshold(); math.Abs(got-0.6070) > 5e-4 {
		t.Errorf("20×6: LSHThreshold = %.4f, want 0.607", got)
	}
	o.Bands, o.Rows = 14, 8
	if got := o.LSHThreshold(); math.Abs(got-0.7191) > 5e-4 {
		t.Errorf("14×8: LSHThreshold = %.4f, want 0.719", got)
	}
	// At the threshold the candidate probability is about 1/2.
	s := o.LSHThreshold()
	if p := 1 - math.Pow(1-math.Pow(s, 8), 14); math.Abs(p-0.5) > 0.15 {
		t.Errorf("P(candidate) at the threshold = %.3f", p)
	}
}

func mustMinHasher(t testing.TB, o Options) *MinHasher {
	t.Helper()
	m, err := NewMinHasher(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSignatureBasics(t *testing.T) {
	o := DefaultOptions()
	m := mustMinHasher(t, o)
	doc := "어제 본 영화인데 배우들 연기가 정말 좋았고 음악도 훌륭했다. 다시 보고 싶다."
	a := m.Signature(doc, nil)
	if len(a) != o.Hashes {
		t.Fatalf("len = %d, want %d", len(a), o.Hashes)
	}
	b := m.Signature(doc, make([]uint32, 3, 500))
	if !slices.Equal(a, b) {
		t.Fatal("identical texts, different signatures")
	}
	// Copies that differ only in what Normalize removes are identical.
	if c := m.Signature("  어제 본 영화인데, 배우들 연기가 정말 좋았고 음악도 훌륭했다!! 다시 보고 싶다~~ ", nil); !slices.Equal(a, c) {
		t.Error("copy with other punctuation and spacing has another signature")
	}
	// Character shingles ignore spacing.
	if c := m.Signature("어제본 영화인데 배우들연기가 정말좋았고 음악도 훌륭했다. 다시보고 싶다.", nil); !slices.Equal(a, c) {
		t.Error("copy with other word spacing has another signature")
	}
	if Jaccard(a, a) != 1 {
		t.Errorf("Jaccard(a, a) = %v", Jaccard(a, a))
	}
	for _, v := range a {
		if v == EmptyValue {
			t.Fatal("a non-empty document's signature holds EmptyValue")
		}
	}
	// Another seed gives other hash functions.
	o2 := o
	o2.Seed = 2
	if slices.Equal(a, mustMinHasher(t, o2).Signature(doc, nil)) {
		t.Error("seed does not change the signature")
	}
	// Reusing dst does not allocate.
	if n := testing.AllocsPerRun(50, func() { a = m.Signature(doc, a) }); n != 0 && !raceEnabled {
		t.Errorf("Signature allocates %v times with a large enough dst", n)
	}
}

func TestSignatureEmptyAndShort(t *testing.T) {
	m := mustMinHasher(t, DefaultOptions())
	for _, s := range []string{"", "   ", "!!! ... ???", "😀👍", "\xff\xfe"} {
		sig := m.Signature(s, nil)
		if !IsEmpty(sig) {
			t.Errorf("Signature(%q) is not the empty signature", s)
		}
		for _, v := range sig {
			if v != EmptyValue {
				t.Fatalf("Signature(%q) holds %#x", s, v)
			}
		}
		if bands := m.Bands(sig, nil); len(bands) != 0 {
			t.Errorf("Bands of the empty signature = %d keys, want none", len(bands))
		}
		if j := Jaccard(sig, sig); j != 0 {
			t.Errorf("Jaccard of two empty signatures = %v, want 0", j)
		}
		if j := ShingleJaccard(s, s, DefaultOptions()); j != 0 {
			t.Errorf("ShingleJaccard of two empty texts = %v, want 0", j)
		}
	}
	// Shorter than one shingle: the whole text is one shingle.
	a, b := m.Signature("좋아", nil), m.Signature("좋아!", nil)
	if IsEmpty(a) || !slices.Equal(a, b) {
		t.Error("a text shorter than a shingle has no stable signature")
	}
	if Jaccard(a, m.Signature("싫어", nil)) > 0.1 {
		t.Error("two different short texts look alike")
	}
	if j := ShingleJaccard("좋아", "좋아", DefaultOptions()); j != 1 {
		t.Errorf("ShingleJaccard of a short text with itself = %v", j)
	}
}

func TestShingleJaccard(t *testing.T) {
	o := DefaultOptions()
	// "가나다라마" has the 3-shingles 가나다 나다라 다라마; "가나다라바" shares two
	// of its three: 2/(3+3-2).
	if got := ShingleJaccard("가나다라마", "가나다 라마", o); got != 1 {
		t.Errorf("spacing: %v", got)
	}
	if got := ShingleJaccard("가나다라마", "가나다라바", o); got != 0.5 {
		t.Errorf("one substitution at the end: %v, want 0.5", got)
	}
	w := o
	w.Unit, w.Shingle = "word", 2
	// Word 2-shingles: "a b", "b c", "c d" against "a b", "b c", "c e".
	if got := ShingleJaccard("A b, c d", "a b c e", w); got != 0.5 {
		t.Errorf("word shingles: %v, want 0.5", got)
	}
	bad := o
	bad.Unit = "byte"
	if !math.IsNaN(ShingleJaccard("a", "b", bad)) {
		t.Error("invalid unit: not NaN")
	}
}

// syllables returns n random Hangul syllables: texts whose 3-shingles
// are, in practice, all distinct.
func syllables(rng *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0xac00 + rng.IntN(11172)))
	}
	return b.String()
}

// overlapPair returns two texts that share a middle stretch of shared
// syllables, each with its own unique syllables around it.
func overlapPair(rng *rand.Rand, shared, uniqueA, uniqueB int) (string, string) {
	s := syllables(rng, shared)
	pa, pb := rng.IntN(uniqueA+1), rng.IntN(uniqueB+1)
	a := syllables(rng, pa) + s + syllables(rng, uniqueA-pa)
	b := syllables(rng, pb) + s + syllables(rng, uniqueB-pb)
	return a, b
}

// TestSignatureAccuracy compares the estimated Jaccard similarity with
// the exact one on 400 pairs of controlled overlap, similarity 0 to 1:
// the estimates must be unbiased, mostly within 0.1, and spread like a
// binomial of Hashes trials (independent hash functions).
func TestSignatureAccuracy(t *testing.T) {
	for _, unit := range []string{"char", "word"} {
		t.Run(unit, func(t *testing.T) {
			o := DefaultOptions()
			o.Unit = unit
			m := mustMinHasher(t, o)
			rng := rand.New(rand.NewPCG(7, 11))
			const pairs = 400
			var sum, sumZ2, worst float64
			within := 0
			for range pairs {
				total := 100 + rng.IntN(400)
				shared := rng.IntN(total + 1)
				a, b := overlapPair(rng, shared, total-shared, total-shared+rng.IntN(20))
				if unit == "word" {
					a, b = spaced(rng, a), spaced(rng, b)
				}
				exact := ShingleJaccard(a, b, o)
				est := Jaccard(m.Signature(a, nil), m.Signature(b, nil))
				err := est - exact
				sum += err
				if sd := math.Sqrt(exact * (1 - exact) / float64(o.Hashes)); sd > 0.01 {
					sumZ2 += (err / sd) * (err / sd)
				} else if math.Abs(err) > 0.05 {
					t.Errorf("exact %.3f, estimated %.3f", exact, est)
				}
				if math.Abs(err) <= 0.1 {
					within++
				}
				worst = max(worst, math.Abs(err))
			}
			bias := sum / pairs
			rmsZ := math.Sqrt(sumZ2 / pairs)
			t.Logf("%s: bias %+.4f, %d/%d within ±0.1, worst %.3f, error/binomial sd (rms) %.2f",
				unit, bias, within, pairs, worst, rmsZ)
			if math.Abs(bias) > 0.015 {
				t.Errorf("biased: mean error %+.4f", bias)
			}
			if within < pairs*95/100 {
				t.Errorf("only %d of %d estimates within ±0.1", within, pairs)
			}
			if worst > 0.2 {
				t.Errorf("an estimate is off by %.3f", worst)
			}
			if rmsZ < 0.75 || rmsZ > 1.25 {
				t.Errorf("errors spread %.2f times the binomial sd: hash functions not independent?", rmsZ)
			}
		})
	}
}

// spaced turns a run of syllables into words of 1-4 syllables (the same
// cut for the same text), for word shingles.
func spaced(rng *rand.Rand, s string) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i > 0 && (r%4 == 0) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestLSHSCurve measures the LSH candidate rate of the default options on
// generated pairs of known similarity: near 0.9 nearly all pairs must be
// candidates, near 0.3 almost none, and near 0.6 the rate must follow
// 1-(1-s^r)^b.
func TestLSHSCurve(t *testing.T) {
	o := DefaultOptions()
	m := mustMinHasher(t, o)
	rng := rand.New(rand.NewPCG(3, 5))
	const pairs = 250
	for _, c := range []struct {
		target, minRate, maxRate float64
	}{
		{0.9, 0.95, 1},
		{0.6, 0, 1}, // checked against the S-curve below
		{0.3, 0, 0.05},
	} {
		candidates := 0
		var sumJ float64
		var ba, bb []uint64
		for range pairs {
			a, b := pairWithJaccard(rng, c.target, o)
			sumJ += ShingleJaccard(a, b, o)
			ba = m.Bands(m.Signature(a, nil), ba)
			bb = m.Bands(m.Signature(b, nil), bb)
			for i := range ba {
				if ba[i] == bb[i] {
					candidates++
					break
				}
			}
		}
		meanJ := sumJ / pairs
		rate := float64(candidates) / pairs
		want := 1 - math.Pow(1-math.Pow(meanJ, float64(o.Rows)), float64(o.Bands))
		t.Logf("Jaccard %.3f: %d/%d candidates (%.3f; S-curve %.3f)", meanJ, candidates, pairs, rate, want)
		if math.Abs(meanJ-c.target) > 0.02 {
			t.Errorf("generated pairs have mean Jaccard %.3f, want %.2f", meanJ, c.target)
		}
		if rate < c.minRate || rate > c.maxRate {
			t.Errorf("Jaccard %.2f: candidate rate %.3f, want %.2f to %.2f", c.target, rate, c.minRate, c.maxRate)
		}
		// Binomial: 4 standard deviations, plus the spread of J itself.
		if tol := 4*math.Sqrt(want*(1-want)/pairs) + 0.03; math.Abs(rate-want) > tol {
			t.Errorf("Jaccard %.3f: candidate rate %.3f, S-curve says %.3f", meanJ, rate, want)
		}
	}
}

// pairWithJaccard returns two texts of random syllables whose character
// shingle sets have Jaccard similarity close to target: a shared stretch
// of s syllables and u unique ones each give s-k+1 shared shingles out of
// s-k+1 + 2(u+k-1).
func pairWithJaccard(rng *rand.Rand, target float64, o Options) (string, string) {
	k := o.ShingleSize()
	n := 300 + rng.IntN(200)
	best, bestU := 2.0, 0
	for u := 0; u <= n; u++ {
		s := n - u
		if s < k {
			break
		}
		j := float64(s-k+1) / float64(s-k+1+2*(u+k-1))
		if math.Abs(j-target) < best {
			best, bestU = math.Abs(j-target), u
		}
	}
	return overlapPair(rng, n-bestU, bestU, bestU)
}

func TestBands(t *testing.T) {
	o := DefaultOptions()
	m := mustMinHasher(t, o)
	rng := rand.New(rand.NewPCG(1, 1))
	sig := m.Signature(syllables(rng, 200), nil)
	keys := m.Bands(sig, nil)
	if len(keys) != o.Bands {
		t.Fatalf("%d keys, want %d", len(keys), o.Bands)
	}
	// Changing one value changes exactly the key of its band.
	other := slices.Clone(sig)
	other[o.Rows*3+2]++
	k2 := m.Bands(other, nil)
	for i := range keys {
		if (keys[i] == k2[i]) != (i != 3) {
			t.Errorf("band %d: keys equal = %v", i, keys[i] == k2[i])
		}
	}
	// Identical rows in different bands give different keys: the band
	// index is mixed in.
	same := make([]uint32, o.Hashes)
	ks := m.Bands(same, nil)
	for i := 1; i < len(ks); i++ {
		if ks[i] == ks[0] {
			t.Errorf("bands 0 and %d of a constant signature share a key", i)
		}
	}
	// Another seed gives other keys for the same signature.
	o2 := o
	o2.Seed = 99
	if k3 := mustMinHasher(t, o2).Bands(sig, nil); k3[0] == keys[0] {
		t.Error("seed is not mixed into band keys")
	}
	defer func() {
		if recover() == nil {
			t.Error("Bands accepted a signature of the wrong length")
		}
	}()
	m.Bands(sig[:10], nil)
}

func TestMinHasherConcurrent(t *testing.T) {
	m := mustMinHasher(t, DefaultOptions())
	rng := rand.New(rand.NewPCG(5, 5))
	docs := make([]string, 64)
	want := make([][]uint32, len(docs))
	for i := range docs {
		docs[i] = syllables(rng, 10+rng.IntN(500)) + " ㅋㅋ Text."
		want[i] = m.Signature(docs[i], nil)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sig []uint32
			for r := range 20 {
				i := (w*7 + r*13) % len(docs)
				sig = m.Signature(docs[i], sig)
				if !slices.Equal(sig, want[i]) {
					t.Errorf("document %d: concurrent signature differs", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}
