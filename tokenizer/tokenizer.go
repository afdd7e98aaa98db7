// Package tokenizer implements byte-level byte-pair encoding, the scheme of
// GPT-2, GPT-4 (tiktoken), Llama 3, Qwen2 and A.X 4.0: encoding, decoding,
// training, and the Hugging Face tokenizer.json and tiktoken file formats.
// It also reads and applies SentencePiece-style BPE files (byte_fallback:
// Gemma, Llama 2, Mistral; see spm).
//
// Text is first cut into pre-tokens by a split pattern (see PatternQwen2),
// then each pre-token's UTF-8 bytes are merged pairwise by rank until no
// known pair remains. Added tokens (special tokens such as <|endoftext|>
// and chat-role markers) are matched in the text first and never split.
package tokenizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// AddedToken is a token matched verbatim in the input before splitting,
// such as <|endoftext|> or <|im_start|>. Fields follow tokenizer.json.
type AddedToken struct {
	ID         int
	Content    string
	Special    bool // skipped by DecodeOptions.SkipSpecial
	SingleWord bool // only matches when not inside a word
	LStrip     bool // swallows whitespace on its left
	RStrip     bool // swallows whitespace on its right
	Normalized bool
}

// merge is the outcome of joining two adjacent tokens: the merged token's
// id and its priority (lower merges first).
type merge struct {
	rank int32
	id   int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// Tokenizer is a byte-level BPE tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	pieces []string       // id → token bytes; "" marks an unused id
	vocab  map[string]int // token bytes → id, ordinary tokens only
	byteID [256]int32     // id of each single byte
	merges *pairTable
	// order lists the merges by rank as written to tokenizer.json; for
	// rank-derived merges it is built on first use (see mergeOrder).
	order     [][2]int32
	orderOnce sync.Once
	// ignoreMerges looks a whole pre-token up in the vocabulary before
	// merging, as tiktoken does and tokenizer.json's ignore_merges asks.
	ignoreMerges bool
	split        *splitter
	nfc          bool

	added   []AddedToken
	byFirst [256][]int // indices into added, longest content first
	special map[string]int

	// cache remembers the ids of recently merged pre-tokens. Words repeat
	// (Zipf), so most lookups hit and skip the pair-by-pair merging. Slots
	// are replaced whole through atomic pointers, so concurrent encoders
	// need no lock; a lost update only costs a recomputation.
	cache     []atomic.Pointer[cacheEntry]
	cacheSeed maphash.Seed

	// sp is set for SentencePiece-style (byte_fallback) files.
	sp *spm

	// extra holds the tokenizer.json sections Dokja does not interpret
	// (post_processor, truncation, ...), written back unchanged.
	extra map[string][]byte
}

type cacheEntry struct {
	piece string
	ids   []int32
}

const cacheSlots = 1 << 16

// clearCache empties the pre-token cache (for benchmarks).
func (t *Tokenizer) clearCache() {
	for i := range t.cache {
		t.cache[i].Store(nil)
	}
}

// VocabSize returns one more than the largest token id.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// Pattern returns the pre-tokenizer's split pattern.
func (t *Tokenizer) Pattern() string {
	if t.split == nil {
		return ""
	}
	return t.split.pattern
}

// AddedTokens returns the added tokens, in id order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	out := append([]AddedToken(nil), t.added...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TokenID returns the id of a token given as its bytes (ordinary or added).
func (t *Tokenizer) TokenID(token string) (int, bool) {
	if id, ok := t.special[token]; ok {
		return id, true
	}
	if t.sp != nil {
		token = strings.ReplaceAll(token, " ", metaspace)
	}
	id, ok := t.vocab[token]
	return id, ok
}

// Token returns the bytes of token id, or false when the id is unused.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.pieces) || t.pieces[id] == "" {
		return "", false
	}
	if t.sp != nil {
		// The decoder's Replace applies to added tokens too.
		if id < len(t.sp.raw) && t.sp.raw[id] != "" {
			return t.sp.raw[id], true
		}
		return strings.ReplaceAll(t.pieces[id], metaspace, " "), true
	}
	return t.pieces[id], true
}

// NumMerges returns the number of merge rules.
func (t *Tokenizer) NumMerges() int { return t.merges.len() }

// build checks pieces and fills the derived tables. merges may be nil, in
// which case they are derived from ranks: any two tokens whose bytes join
// into a third merge with that token's id as rank (tiktoken's rule).
func (t *Tokenizer) build(order [][2]int32) error {
	t.cache = make([]atomic.Pointer[cacheEntry], cacheSlots)
	t.cacheSeed = maphash.MakeSeed()
	t.vocab = make(map[string]int, len(t.pieces))
	for id, p := range t.pieces {
		if p == "" {
			continue
		}
		if prev, dup := t.vocab[p]; dup {
			return fmt.Errorf("token %q has two ids, %d and %d", p, prev, id)
		}
		t.vocab[p] = id
	}
	for b := range 256 {
		if t.sp != nil {
			break // merged from characters, with <0xNN> fallbacks
		}
		id, ok := t.vocab[string([]byte{byte(b)})]
		if !ok {
			return fmt.Errorf("vocabulary lacks the single byte 0x%02x, which byte-level BPE needs", b)
		}
		t.byteID[b] = int32(id)
	}
	if order != nil {
		t.order = order
		t.merges = newPairTable(len(order))
		for r, m := range order {
			joined := t.pieces[m[0]] + t.pieces[m[1]]
			id, ok := t.vocab[joined]
			if !ok {
				return fmt.Errorf("merge %d (%q + %q): the merged token is not in the vocabulary", r, t.pieces[m[0]], t.pieces[m[1]])
			}
			// A later duplicate never fires; the first rank stays.
			t.merges.put(pairKey(m[0], m[1]), merge{rank: int32(r), id: int32(id)})
		}
		return nil
	}
	t.merges = newPairTable(len(t.pieces) * 2)
	for id, p := range t.pieces {
		for k := 1; k < len(p); k++ {
			a, okA := t.vocab[p[:k]]
			b, okB := t.vocab[p[k:]]
			if okA && okB {
				t.merges.put(pairKey(int32(a), int32(b)), merge{rank: int32(id), id: int32(id)})
			}
		}
	}
	return nil
}

// mergeOrder returns the merges by rank, ties by ids.
func (t *Tokenizer) mergeOrder() [][2]int32 {
	t.orderOnce.Do(func() {
		if t.order != nil {
			return
		}
		type ranked struct {
			rank int32
			pair [2]int32
		}
		all := make([]ranked, 0, t.merges.len())
		t.merges.all(func(k uint64, m merge) {
			all = append(all, ranked{m.rank, [2]int32{int32(k >> 32), int32(uint32(k))}})
		})
		slices.SortFunc(all, func(a, b ranked) int {
			if a.rank != b.rank {
				return int(a.rank - b.rank)
			}
			if a.pair[0] != b.pair[0] {
				return int(a.pair[0] - b.pair[0])
			}
			return int(a.pair[1] - b.pair[1])
		})
		t.order = make([][2]int32, len(all))
		for i, r := range all {
			t.order[i] = r.pair
		}
	})
	return t.order
}

// setAdded installs the added tokens, checking their ids.
func (t *Tokenizer) setAdded(added []AddedToken) error {
	t.added = nil
	t.special = make(map[string]int, len(added))
	t.byFirst = [256][]int{}
	for _, a := range added {
		if a.Content == "" {
			return fmt.Errorf("added token %d has empty content", a.ID)
		}
		if !utf8.ValidString(a.Content) {
			return fmt.Errorf("added token %d: content is not valid UTF-8", a.ID)
		}
		if a.ID < 0 || a.ID > maxVocab {
			return fmt.Errorf("added token %q: id %d out of range", a.Content, a.ID)
		}
		if prev, dup := t.special[a.Content]; dup {
			if prev == a.ID {
				continue
			}
			return fmt.Errorf("added token %q has two ids, %d and %d", a.Content, prev, a.ID)
		}
		for a.ID >= len(t.pieces) {
			t.pieces = append(t.pieces, "")
		}
		if p := t.pieces[a.ID]; p != "" && p != a.Content {
			return fmt.Errorf("added token %q: id %d already belongs to token %q", a.Content, a.ID, p)
		}
		t.pieces[a.ID] = a.Content
		t.special[a.Content] = a.ID
		t.added = append(t.added, a)
	}
	for i, a := range t.added {
		t.byFirst[a.Content[0]] = append(t.byFirst[a.Content[0]], i)
	}
	for b := range t.byFirst {
		l := t.byFirst[b]
		sort.SliceStable(l, func(i, j int) bool { return len(t.added[l[i]].Content) > len(t.added[l[j]].Content) })
	}
	return nil
}

// AddSpecial returns the id of the special token content, adding it
// with the next free id (VocabSize) when the tokenizer lacks it, as
// encoders trained on a decoder's vocabulary add their mask token.
func (t *Tokenizer) AddSpecial(content string) (int, error) {
	if id, ok := t.TokenID(content); ok {
		return id, nil
	}
	added := append(slices.Clone(t.added), AddedToken{ID: len(t.pieces), Content: content, Special: true})
	if err := t.setAdded(added); err != nil {
		return 0, err
	}
	t.clearCache()
	return len(t.pieces) - 1, nil
}

// SetTemplate makes the tokenizer's post_processor a TemplateProcessing
// that puts the special tokens before and after around a single sequence
// (what Template then returns, and what Hugging Face applies).
func (t *Tokenizer) SetTemplate(before, after []string) error {
	type special struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	}
	type piece struct {
		SpecialToken *special `json:"SpecialToken,omitempty"`
		Sequence     *special `json:"Sequence,omitempty"`
	}
	var single []piece
	specials := map[string]any{}
	add := func(tokens []string) error {
		for _, tok := range tokens {
			id, ok := t.special[tok]
			if !ok {
				return fmt.Errorf("template: %q is not an added token", tok)
			}
			single = append(single, piece{SpecialToken: &special{ID: tok}})
			specials[tok] = map[string]any{"id": tok, "ids": []int{id}, "tokens": []string{tok}}
		}
		return nil
	}
	if err := add(before); err != nil {
		return err
	}
	single = append(single, piece{Sequence: &special{ID: "A"}})
	if err := add(after); err != nil {
		return err
	}
	// A pair: the second sequence after the first's closing tokens, then
	// the closing tokens again.
	pair := append(slices.Clone(single), piece{Sequence: &special{ID: "B", TypeID: 1}})
	for _, tok := range after {
		pair = append(pair, piece{SpecialToken: &special{ID: tok, TypeID: 1}})
	}
	raw, err := json.Marshal(map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials})
	if err != nil {
		return err
	}
	if t.extra == nil {
		t.extra = map[string][]byte{}
	}
	t.extra["post_processor"] = raw
	return nil
}

// maxVocab bounds token ids read from files.
const maxVocab = 1 << 24

// InvalidUTF8Error reports input text that is not valid UTF-8.
type InvalidUTF8Error struct{ Offset int }

func (e *InvalidUTF8Error) Error() string {
	return fmt.Sprintf("invalid UTF-8 at byte offset %d", e.Offset)
}

func checkUTF8(s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return &InvalidUTF8Error{Offset: i}
		}
		i += n
	}
	return nil
}

// Encode returns the token ids of text. Added tokens in the text are
// recognised; text must be valid UTF-8.
func (t *Tokenizer) Encode(text string) ([]int, error) {
	return t.AppendEncode(nil, text)
}

// AppendEncode appends the ids of text to dst, like Encode.
func (t *Tokenizer) AppendEncode(dst []int, text string) ([]int, error) {
	if err := checkUTF8(text); err != nil {
		return dst, err
	}
	if t.nfc {
		text = norm.NFC.String(text)
	}
	return t.appendWithAdded(dst, text), nil
}

// EncodeOrdinary encodes text treating added-token strings as plain text,
// like tiktoken's encode_ordinary.
func (t *Tokenizer) EncodeOrdinary(text string) ([]int, error) {
	if err := checkUTF8(text); err != nil {
		return nil, err
	}
	if t.nfc {
		text = norm.NFC.String(text)
	}
	return t.appendOrdinary(nil, text), nil
}

// Count returns the number of tokens Encode would return.
func (t *Tokenizer) Count(text string) (int, error) {
	ids, err := t.Encode(text)
	return len(ids), err
}

func (t *Tokenizer) appendWithAdded(dst []int, text string) []int {
	if len(t.added) == 0 {
		return t.appendOrdinary(dst, text)
	}
	start := 0 // text[start:] is not yet encoded
	for i := 0; i < len(text); i++ {
		cands := t.byFirst[text[i]]
		if len(cands) == 0 {
			continue
		}
		for _, c := range cands {
			a := &t.added[c]
			if !strings.HasPrefix(text[i:], a.Content) {
				continue
			}
			end := i + len(a.Content)
			if a.SingleWord && (isWordBefore(text, i) || isWordAfter(text, end)) {
				continue
			}
			left := i
			if a.LStrip {
				for left > start {
					r, n := utf8.DecodeLastRuneInString(text[start:left])
					if !unicode.IsSpace(r) {
						break
					}
					left -= n
				}
			}
			if a.RStrip {
				for end < len(text) {
					r, n := utf8.DecodeRuneInString(text[end:])
					if !unicode.IsSpace(r) {
						break
					}
					end += n
				}
			}
			dst = t.appendSegment(dst, text[start:left], start == 0)
			dst = append(dst, a.ID)
			start = end
			i = end - 1
			break
		}
	}
	return t.appendSegment(dst, text[start:], start == 0)
}

// appendSegment encodes text between added tokens; first tells whether
// it starts the input (SentencePiece files may mark only that one).
func (t *Tokenizer) appendSegment(dst []int, text string, first bool) []int {
	if t.sp != nil {
		return t.appendSPM(dst, text, first)
	}
	return t.appendOrdinary(dst, text)
}

func isWordBefore(s string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isWordRune(r)
}

func isWordAfter(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isWordRune(r)
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

func (t *Tokenizer) appendOrdinary(dst []int, text string) []int {
	if t.sp != nil {
		return t.appendSPM(dst, text, true)
	}
	t.split.split(text, func(piece string) {
		dst = t.appendPiece(dst, piece)
	})
	return dst
}

// heapThreshold is the pre-token length from which merging switches from
// repeated linear scans (fast on short words) to a priority queue, so that
// a megabyte-long run of letters costs n log n rather than n².
const heapThreshold = 64

func (t *Tokenizer) appendPiece(dst []int, piece string) []int {
	if len(piece) == 1 {
		return append(dst, int(t.byteID[piece[0]]))
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[piece]; ok {
			return append(dst, id)
		}
	}
	if len(piece) >= heapThreshold {
		return t.appendPieceHeap(dst, piece)
	}
	slot := &t.cache[maphash.String(t.cacheSeed, piece)&(cacheSlots-1)]
	if e := slot.Load(); e != nil && e.piece == piece {
		for _, id := range e.ids {
			dst = append(dst, int(id))
		}
		return dst
	}
	// ids[k] is the k-th part; ranks[k] the rank of merging parts k, k+1.
	var idBuf [heapThreshold]int32
	var rankBuf [heapThreshold]merge
	n := len(piece)
	ids, ranks := idBuf[:n], rankBuf[:n-1]
	for k := range n {
		ids[k] = t.byteID[piece[k]]
	}
	none := merge{rank: -1}
	for k := range ranks {
		if m, ok := t.merges.get(pairKey(ids[k], ids[k+1])); ok {
			ranks[k] = m
		} else {
			ranks[k] = none
		}
	}
	for len(ranks) > 0 {
		best := -1
		for k, m := range ranks {
			if m.rank >= 0 && (best < 0 || m.rank < ranks[best].rank) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		ids[best] = ranks[best].id
		copy(ids[best+1:], ids[best+2:])
		ids = ids[:len(ids)-1]
		copy(ranks[best:], ranks[best+1:])
		ranks = ranks[:len(ranks)-1]
		if best > 0 {
			if m, ok := t.merges.get(pairKey(ids[best-1], ids[best])); ok {
				ranks[best-1] = m
			} else {
				ranks[best-1] = none
			}
		}
		if best < len(ranks) {
			if m, ok := t.merges.get(pairKey(ids[best], ids[best+1])); ok {
				ranks[best] = m
			} else {
				ranks[best] = none
			}
		}
	}
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	slot.Store(&cacheEntry{piece: strings.Clone(piece), ids: slices.Clone(ids)})
	return dst
}

// Decode returns the text of ids: the concatenated bytes of their tokens.
// The result is not valid UTF-8 when ids end inside a character.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeOptions adjusts Decode.
type DecodeOptions struct {
	SkipSpecial bool // leave out added tokens marked special
}

// DecodeWith decodes like Decode, with options.
func (t *Tokenizer) DecodeWith(ids []int, opt DecodeOptions) (string, error) {
	var b strings.Builder
	for i, id := range ids {
		p, ok := t.Token(id)
		if !ok {
			return "", fmt.Errorf("token %d (position %d): id not in the vocabulary of %d tokens", id, i, len(t.pieces))
		}
		if opt.SkipSpecial {
			if sid, ok := t.special[p]; ok && sid == id && t.isSpecial(id) {
				continue
			}
		}
		b.WriteString(p)
	}
	if t.sp != nil {
		return t.decodeSPM(b.String()), nil
	}
	return b.String(), nil
}

func (t *Tokenizer) isSpecial(id int) bool {
	for _, a := range t.added {
		if a.ID == id {
			return a.Special
		}
	}
	return false
}

// EncodeBatch encodes texts on up to workers goroutines (0: all cores).
// The result's i-th entry holds the ids of texts[i].
func (t *Tokenizer) EncodeBatch(ctx context.Context, texts []string, workers int) ([][]int, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([][]int, len(texts))
	errs := make([]error, workers)
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	const chunk = 64
	for w := range workers {
		wg.Go(func() {
			for {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				mu.Lock()
				lo := int(next)
				next += chunk
				mu.Unlock()
				if lo >= len(texts) {
					return
				}
				for i := lo; i < min(lo+chunk, len(texts)); i++ {
					ids, err := t.Encode(texts[i])
					if err != nil {
						errs[w] = fmt.Errorf("text %d: %w", i, err)
						return
					}
					out[i] = ids
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
