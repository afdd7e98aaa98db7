package quality

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"unicode/utf8"
)

// repetition applies Gopher's repetition rules: repeated paragraphs and
// lines, then the most frequent 2- to 4-grams and the repeated 5- to
// 10-grams, in that order.
func (c *compiled) repetition(text string, st *stats, seed maphash.Seed) (string, string) {
	p := &c.GopherRep
	total := float64(st.runes)
	if p.MaxDupParaFrac > 0 || p.MaxDupParaCharFrac > 0 {
		seen := map[string]bool{}
		paras, dup, dupChars := 0, 0, 0
		emit := func(s string) {
			paras++
			if seen[s] {
				dup++
				dupChars += utf8.RuneCountInString(s)
				return
			}
			seen[s] = true
		}
		start, end := -1, 0
		for i := range st.lines {
			l := &st.lines[i]
			if l.blank() {
				if start >= 0 {
					emit(text[start:end])
				}
				start = -1
				continue
			}
			if start < 0 {
				start = l.start
			}
			end = l.end
		}
		if start >= 0 {
			emit(text[start:end])
		}
		if r := float64(dup) / float64(paras); p.MaxDupParaFrac > 0 && r > p.MaxDupParaFrac {
			return reasonDupParaFrac, fmt.Sprintf("%d of %d paragraphs repeat (%.2f > %g)", dup, paras, r, p.MaxDupParaFrac)
		}
		if r := float64(dupChars) / total; p.MaxDupParaCharFrac > 0 && r > p.MaxDupParaCharFrac {
			return reasonDupParaCharFrac, fmt.Sprintf("repeated paragraphs hold %.2f of characters > %g", r, p.MaxDupParaCharFrac)
		}
	}
	if p.MaxDupLineFrac > 0 || p.MaxDupLineCharFrac > 0 {
		seen := make(map[string]bool, len(st.lines))
		lines, dup, dupChars := 0, 0, 0
		for i := range st.lines {
			l := &st.lines[i]
			if l.blank() {
				continue
			}
			lines++
			if s := text[l.start:l.end]; seen[s] {
				dup++
				dupChars += int(l.runes)
			} else {
				seen[s] = true
			}
		}
		if r := float64(dup) / float64(lines); p.MaxDupLineFrac > 0 && r > p.MaxDupLineFrac {
			return reasonDupLineFrac, fmt.Sprintf("%d of %d lines repeat (%.2f > %g)", dup, lines, r, p.MaxDupLineFrac)
		}
		if r := float64(dupChars) / total; p.MaxDupLineCharFrac > 0 && r > p.MaxDupLineCharFrac {
			return reasonDupLineCharFrac, fmt.Sprintf("repeated lines hold %.2f of characters > %g", r, p.MaxDupLineCharFrac)
		}
	}
	return c.ngrams(text, st, seed)
}

// mix extends an n-gram hash by one word hash.
func mix(h, w uint64) uint64 {
	return (bits.RotateLeft64(h, 23) ^ w) * 0x9E3779B97F4A7C15
}

// ngrams applies the n-gram rules. N-grams are compared by 64-bit hashes
// (words hashed with maphash and chained): two different n-grams are
// confused with probability about W²/2⁶⁴ for W words.
//
// An (n+1)-gram can only repeat where the n-gram at the same position
// repeats, so each level hashes only the positions whose shorter n-gram was
// repeated, and the work shrinks quickly for natural text.
func (c *compiled) ngrams(text string, st *stats, seed maphash.Seed) (string, string) {
	p := &c.GopherRep
	thr := [11]float64{
		2: p.MaxTop2GramFrac, 3: p.MaxTop3GramFrac, 4: p.MaxTop4GramFrac,
		5: p.MaxDup5GramFrac, 6: p.MaxDup6GramFrac, 7: p.MaxDup7GramFrac,
		8: p.MaxDup8GramFrac, 9: p.MaxDup9GramFrac, 10: p.MaxDup10GramFrac,
	}
	maxN := 0
	for n := 10; n >= 2; n-- {
		if thr[n] > 0 {
			maxN = n
			break
		}
	}
	if maxN == 0 || st.words < 2 {
		return "", ""
	}
	W := st.words
	wh := make([]uint64, W) // word hashes
	h := make([]uint64, W)  // h[i]: hash of the current level's n-gram at i
	pre := make([]int, W+1) // pre[i]: runes in words before i
	cnt := make([]int32, W) // cnt[i]: occurrences of the current level's n-gram at i
	tab := newCounter(W)
	cand := make([]int32, 0, W)
	w := 0
	for i := range st.toks {
		t := &st.toks[i]
		if !t.isWord() {
			continue
		}
		wh[w] = maphash.String(seed, t.core(text))
		h[w] = wh[w]
		pre[w+1] = pre[w] + int(t.runes)
		cand = append(cand, int32(w))
		w++
	}
	total := float64(st.wordRunes)
	// Level 1 keeps the positions of repeated words; level n >= 2 extends
	// them to n-grams and keeps those that repeat.
	for n := 1; n <= maxN && len(cand) > 0; n++ {
		tab.reset(len(cand))
		k := 0
		for _, i := range cand {
			if int(i)+n > W {
				continue
			}
			if n > 1 {
				h[i] = mix(h[i], wh[int(i)+n-1])
			}
			tab.add(h[i])
			cand[k] = i
			k++
		}
		cand = cand[:k]
		k = 0
		for _, i := range cand {
			if m := tab.get(h[i]); m >= 2 {
				cand[k] = i
				cnt[i] = m
				k++
			}
		}
		cand = cand[:k]
		if n == 1 || thr[n] == 0 || len(cand) == 0 {
			continue
		}
		covered := 0
		if n <= 4 {
			for _, i := range cand {
				covered = max(covered, int(cnt[i])*(pre[int(i)+n]-pre[i]))
			}
		} else {
			end := 0
			for _, i := range cand {
				s, e := max(int(i), end), int(i)+n
				covered += pre[e] - pre[s]
				end = e
			}
		}
		if r := float64(covered) / total; r > thr[n] {
			if n <= 4 {
				return ngramReason(n), fmt.Sprintf("most frequent %d-gram covers %.3f of word characters > %g", n, r, thr[n])
			}
			return ngramReason(n), fmt.Sprintf("repeated %d-grams cover %.3f of word characters > %g", n, r, thr[n])
		}
	}
	return "", ""
}

// counter counts 64-bit keys in an open-addressing table, reused level
// after level: a slot belongs to the current level only if its stamp is the
// level's.
type counter struct {
	keys   []uint64
	counts []int32
	stamps []uint32
	stamp  uint32
	mask   uint64
}

func newCounter(n int) *counter {
	size := 8
	for size < 2*n {
		size *= 2
	}
	return &counter{keys: make([]uint64, size), counts: make([]int32, size), stamps: make([]uint32, size)}
}

// reset empties the table for up to n keys.
func (c *counter) reset(n int) {
	size := 8
	for size < 2*n {
		size *= 2
	}
	c.mask = uint64(min(size, len(c.keys)) - 1)
	c.stamp++
}

func (c *counter) add(k uint64) {
	for i := k & c.mask; ; i = (i + 1) & c.mask {
		if c.stamps[i] != c.stamp {
			c.stamps[i], c.keys[i], c.counts[i] = c.stamp, k, 1
			return
		}
		if c.keys[i] == k {
			c.counts[i]++
			return
		}
	}
}

func (c *counter) get(k uint64) int32 {
	for i := k & c.mask; ; i = (i + 1) & c.mask {
		if c.stamps[i] != c.stamp {
			return 0
		}
		if c.keys[i] == k {
			return c.counts[i]
		}
	}
}
