package tokenizer

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	tiktoken "github.com/tiktoken-go/tokenizer"

	"github.com/dokja/dokja/atomicfile"
)

// FromRanks builds a tokenizer in tiktoken's style: pieces[r] holds the
// bytes of the token of rank r ("" for an unused rank), a rank doubles as
// the token id, and any two tokens whose bytes join into a third merge with
// that token's rank. specials maps added-token strings to their ids.
func FromRanks(pieces []string, pattern string, specials map[string]int) (*Tokenizer, error) {
	sp, err := newSplitter(pattern)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{pieces: append([]string(nil), pieces...), split: sp, ignoreMerges: true}
	if err := t.build(nil); err != nil {
		return nil, err
	}
	var added []AddedToken
	for s, id := range specials {
		added = append(added, AddedToken{ID: id, Content: s, Special: true})
	}
	sort.Slice(added, func(i, j int) bool { return added[i].ID < added[j].ID })
	if err := t.setAdded(added); err != nil {
		return nil, err
	}
	return t, nil
}

// maxRankLine bounds one line of a tiktoken rank file.
const maxRankLine = 1 << 16

// ReadTiktoken reads a tiktoken rank file: one "base64-token rank" pair per
// line, as shipped for o200k_base and cl100k_base. name appears in errors.
func ReadTiktoken(r io.Reader, name, pattern string, specials map[string]int) (*Tokenizer, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var pieces []string
	for line := 1; ; line++ {
		raw, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("%s line %d: longer than %d bytes; not a tiktoken rank file", name, line, maxRankLine)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		text := strings.TrimRight(string(raw), "\r\n")
		if text != "" {
			tok, rankText, ok := strings.Cut(text, " ")
			if !ok {
				return nil, fmt.Errorf("%s line %d: want \"<base64 token> <rank>\", got %q", name, line, clip(text))
			}
			b, derr := base64.StdEncoding.DecodeString(tok)
			if derr != nil || len(b) == 0 {
				return nil, fmt.Errorf("%s line %d: token %q is not non-empty base64", name, line, clip(tok))
			}
			rank, rerr := strconv.Atoi(rankText)
			if rerr != nil || rank < 0 || rank >= maxVocab {
				return nil, fmt.Errorf("%s line %d: rank %q is not an integer in [0, %d)", name, line, clip(rankText), maxVocab)
			}
			for rank >= len(pieces) {
				pieces = append(pieces, "")
			}
			if pieces[rank] != "" {
				return nil, fmt.Errorf("%s line %d: rank %d given twice", name, line, rank)
			}
			pieces[rank] = string(b)
		}
		if err == io.EOF {
			break
		}
	}
	if len(pieces) == 0 {
		return nil, fmt.Errorf("%s: no ranks; not a tiktoken rank file", name)
	}
	t, err := FromRanks(pieces, pattern, specials)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// LoadTiktoken reads a tiktoken rank file from disk.
func LoadTiktoken(path, pattern string, specials map[string]int) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTiktoken(f, path, pattern, specials)
}

// WriteTiktoken writes the ordinary tokens as a tiktoken rank file.
// Only tokenizers whose merge ranks are their ids (those built by
// FromRanks or trained by Dokja) round-trip exactly.
func (t *Tokenizer) WriteTiktoken(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for id, p := range t.pieces {
		if p == "" {
			continue
		}
		if _, isAdded := t.special[p]; isAdded && t.vocab[p] != id {
			continue
		}
		if _, err := fmt.Fprintf(bw, "%s %d\n", base64.StdEncoding.EncodeToString([]byte(p)), id); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// SaveTiktoken writes the rank file atomically to path.
func (t *Tokenizer) SaveTiktoken(path string) error {
	return atomicfile.Write(path, t.WriteTiktoken)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// namedEncodings are the tiktoken encodings available by name. Their rank
// tables come from github.com/tiktoken-go/tokenizer, which embeds them.
var namedEncodings = map[string]struct {
	enc      tiktoken.Encoding
	pattern  string
	specials map[string]int
}{
	"o200k_base": {tiktoken.O200kBase, PatternO200K, map[string]int{"<|endoftext|>": 199999, "<|endofprompt|>": 200018}},
	"cl100k_base": {tiktoken.Cl100kBase, PatternCL100K, map[string]int{
		"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
		"<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}},
}

var (
	namedMu    sync.Mutex
	namedCache = map[string]*Tokenizer{}
)

// Named returns a built-in tiktoken encoding: "o200k" (GPT-4o) or
// "cl100k" (GPT-4), with or without the "_base" suffix.
func Named(name string) (*Tokenizer, error) {
	key := name
	if !strings.HasSuffix(key, "_base") {
		key += "_base"
	}
	spec, ok := namedEncodings[key]
	if !ok {
		return nil, fmt.Errorf("unknown tokenizer name %q (want o200k or cl100k, or a tokenizer.json or .tiktoken path)", name)
	}
	namedMu.Lock()
	defer namedMu.Unlock()
	if t := namedCache[key]; t != nil {
		return t, nil
	}
	codec, err := tiktoken.Get(spec.enc)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", key, err)
	}
	first := 1 << 30
	for _, id := range spec.specials {
		first = min(first, id)
	}
	// The library keeps its table private; decoding each rank recovers it.
	pieces := make([]string, first)
	for id := range first {
		s, err := codec.Decode([]uint{uint(id)})
		if err == nil {
			pieces[id] = s
		}
	}
	t, err := FromRanks(pieces, spec.pattern, spec.specials)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", key, err)
	}
	namedCache[key] = t
	return t, nil
}

// IsNamed reports whether name is a built-in encoding.
func IsNamed(name string) bool {
	key := name
	if !strings.HasSuffix(key, "_base") {
		key += "_base"
	}
	_, ok := namedEncodings[key]
	return ok
}
