package dedup

import (
	"unicode"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/text/unicode/norm"
)

// Normalize prepares text for hashing, so that copies differing only in
// presentation hash alike. In order:
//
//   - Unicode NFKC: full-width and half-width forms become their ordinary
//     letters and digits ("ＡＢＣ１２３" → "ABC123", "ｶﾀｶﾅ" → "カタカナ"),
//     ligatures and compatibility characters are spelled out ("ﬁ" → "fi",
//     "㈜" → "(주)", "①" → "1"). Precomposed Hangul syllables are already
//     NFKC and are left as they are; Hangul compatibility jamo
//     ("ㅋㅋ", U+314B) become conjoining jamo (U+110F), as NFKC says.
//   - lower case (simple Unicode case mapping);
//   - punctuation (P*) and symbols (S*, which include emoji and U+FFFD) are
//     removed, not replaced by a space: "don't" → "dont", "영화.최고" →
//     "영화최고"; invisible format characters (Cf: zero-width space and
//     joiner, byte order mark, soft hyphen) and control characters other
//     than whitespace are removed as well;
//   - every decimal digit (Nd, any script) becomes "0", so "2019년" and
//     "2024년" agree, as do prices and dates;
//   - runs of white space become one ASCII space, and the result has none
//     at either end.
//
// Invalid UTF-8 bytes are removed (they read as U+FFFD, a symbol). The
// result is valid UTF-8, and Normalize(Normalize(s)) == Normalize(s).
func Normalize(text string) string {
	var sc normScratch
	return string(appendNormalized(nil, &sc, text))
}

// normScratch is working memory for appendNormalized that a caller may
// keep between calls, so that normalizing allocates nothing.
type normScratch struct {
	tmp []byte
	it  norm.Iter // holds its own buffer; norm.Form.Append allocates one per call
}

// appendNormalized appends Normalize(text) to dst.
func appendNormalized(dst []byte, sc *normScratch, text string) []byte {
	start := len(dst)
	var recheck bool
	sc.tmp = appendNFKC(sc.tmp[:0], &sc.it, text)
	dst, recheck = filterRunes(dst, sc.tmp)
	// Removing a character can bring together two that NFKC would join
	// (a leading and a vowel jamo either side of a removed hyphen, a
	// letter and a combining accent), and lower-casing can, rarely, give a
	// character NFKC would change: when filterRunes did either, run the
	// passes again until nothing changes, so Normalize is idempotent.
	for pass := 0; recheck && pass < 4; pass++ {
		out := dst[start:]
		if norm.NFKC.IsNormal(out) {
			break
		}
		sc.it.Init(norm.NFKC, out)
		sc.tmp = sc.tmp[:0]
		for !sc.it.Done() {
			sc.tmp = append(sc.tmp, sc.it.Next()...)
		}
		dst, recheck = filterRunes(dst[:start], sc.tmp)
	}
	return dst
}

// filterRunes appends s lower-cased, without punctuation, symbols, format
// and control characters, with digits as '0' and white space collapsed.
// recheck reports whether the output may not be NFKC although s is: a
// non-ASCII letter was lower-cased, or a character was removed right
// before a non-ASCII one.
func filterRunes(dst []byte, s []byte) (out []byte, recheck bool) {
	start := len(dst)
	space, removed := false, false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			case '0' <= c && c <= '9':
				c = '0'
			case c == ' ' || ('\t' <= c && c <= '\r'):
				space, removed = true, false
				continue
			default: // ASCII punctuation, symbols and controls
				removed = true
				continue
			}
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space, removed = false, false
			dst = append(dst, c)
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if 0xac00 <= r && r <= 0xd7a3 { // Hangul syllables: letters without case
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space, removed = false, false
			dst = append(dst, s[i:i+n]...)
			i += n
			continue
		}
		i += n
		switch {
		case r == utf8.RuneError && n == 1:
			removed = true
			continue
		case unicode.IsSpace(r):
			space, removed = true, false
			continue
		case unicode.IsDigit(r):
			r = '0'
		case unicode.IsPunct(r) || unicode.IsSymbol(r) ||
			unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Cc, r):
			removed = true
			continue
		default:
			if removed && !norm.NFKC.Properties(s[i-n:i]).BoundaryBefore() {
				recheck = true // r may combine with what came before the removed
			}
			if l := unicode.ToLower(r); l != r {
				r, recheck = l, true
			}
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space, removed = false, false
		dst = utf8.AppendRune(dst, r)
	}
	return dst, recheck
}

// appendNFKC appends the NFKC form of s to dst: norm.NFKC.AppendString,
// faster on text that is mostly ASCII, Hangul syllables and CJK
// ideographs. Those characters are NFKC already and never combine with
// the character before them, so only the stretches between them go
// through norm (with it), each with the one safe character before it
// (which a combining mark or a trailing jamo may join).
func appendNFKC(dst []byte, it *norm.Iter, s string) []byte {
	for i := 0; i < len(s); {
		j, last := i, -1 // j: first unsafe rune; last: start of the safe rune before it
		for j < len(s) {
			if c := s[j]; c < utf8.RuneSelf {
				last = j
				j++
				continue
			}
			r, n := utf8.DecodeRuneInString(s[j:])
			if !nfkcSafe(r) {
				break
			}
			last = j
			j += n
		}
		if j == len(s) {
			return append(dst, s[i:]...)
		}
		cut := i
		if last >= i {
			cut = last
		}
		dst = append(dst, s[i:cut]...)
		k := j // the next safe rune
		for k < len(s) {
			r, n := utf8.DecodeRuneInString(s[k:])
			if r < utf8.RuneSelf || nfkcSafe(r) {
				break
			}
			k += n
		}
		it.InitString(norm.NFKC, s[cut:k])
		for !it.Done() {
			dst = append(dst, it.Next()...)
		}
		i = k
	}
	return dst
}

// nfkcSafe reports whether r is in NFKC and never combines with the
// character before it (non-ASCII only; all of ASCII is).
func nfkcSafe(r rune) bool {
	return 0xac00 <= r && r <= 0xd7a3 || // Hangul syllables
		0x4e00 <= r && r <= 0x9fff // CJK unified ideographs
}

// Key is a 128-bit content hash: the exact-duplicate key of a document.
type Key [16]byte

// Seeds of the two independent xxhash64 halves of a Key.
const (
	exactSeedLo = 0x6a09e667f3bcc908
	exactSeedHi = 0xbb67ae8584caa73b
)

// ExactKey returns a 128-bit hash of text exactly as given (two xxhash64
// with different seeds, little-endian). Callers decide whether to
// Normalize first: ExactKey(Normalize(s)) finds copies that differ only in
// case, punctuation, digits, white space or width forms. With 128 bits, a
// false match among 10^12 distinct documents has odds of about 10^-15.
func ExactKey(text string) Key {
	var d xxhash.Digest
	d.ResetWithSeed(exactSeedLo)
	d.WriteString(text)
	lo := d.Sum64()
	d.ResetWithSeed(exactSeedHi)
	d.WriteString(text)
	hi := d.Sum64()
	var k Key
	putUint64(k[:8], lo)
	putUint64(k[8:], hi)
	return k
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}
