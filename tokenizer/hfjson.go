package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dokja/dokja/atomicfile"
)

// Hugging Face's byte-level alphabet stands each byte for a printable
// character: printable Latin-1 bytes for themselves, the other 68 bytes
// for U+0100 onwards in byte order.
var (
	byteRune  [256]rune
	runeByte  [324]int16 // -1: not in the alphabet
	byteOrder [256]byte  // bytes sorted by their characters
)

func init() {
	for i := range runeByte {
		runeByte[i] = -1
	}
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteRune[b] = rune(b)
		} else {
			byteRune[b] = rune(256 + n)
			n++
		}
		runeByte[byteRune[b]] = int16(b)
	}
	for b := range 256 {
		byteOrder[b] = byte(b)
	}
	sort.Slice(byteOrder[:], func(i, j int) bool { return byteRune[byteOrder[i]] < byteRune[byteOrder[j]] })
}

// toByteLevel spells raw bytes in the byte-level alphabet.
func toByteLevel(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteRune[s[i]])
	}
	return b.String()
}

// fromByteLevel turns a byte-level spelling back into raw bytes.
func fromByteLevel(s string) (string, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0 || int(r) >= len(runeByte) || runeByte[r] < 0 {
			return "", false
		}
		out = append(out, byte(runeByte[r]))
	}
	return string(out), true
}

// maxJSONBytes bounds a tokenizer.json read from disk.
const maxJSONBytes = 1 << 30

type hfAdded struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfFile struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *hfModel        `json:"model"`
}

type hfModel struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// component is any typed tokenizer.json section.
type component struct {
	Type           string          `json:"type"`
	AddPrefixSpace bool            `json:"add_prefix_space"`
	UseRegex       *bool           `json:"use_regex"`
	Pattern        json.RawMessage `json:"pattern"`
	Behavior       string          `json:"behavior"`
	Invert         bool            `json:"invert"`
	Pretokenizers  []component     `json:"pretokenizers"`
	// SentencePiece-style steps: Prepend, Replace's content, Metaspace,
	// Strip.
	Prepend       string      `json:"prepend"`
	Content       string      `json:"content"`
	Replacement   string      `json:"replacement"`
	PrependScheme string      `json:"prepend_scheme"`
	Split         *bool       `json:"split"`
	Start         int         `json:"start"`
	Stop          int         `json:"stop"`
	Normalizers   []component `json:"normalizers"`
	Decoders      []component `json:"decoders"`
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// LoadJSON reads a Hugging Face tokenizer.json file.
func LoadJSON(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadJSON(io.LimitReader(f, maxJSONBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ReadJSON parses a Hugging Face tokenizer.json of the byte-level BPE kind
// (GPT-2, Llama 3, Qwen2 and their descendants).
func ReadJSON(r io.Reader) (*Tokenizer, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) > maxJSONBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJSONBytes)
	}
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
		}
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	if f.Model == nil {
		return nil, errors.New(`field "model": missing`)
	}
	m := f.Model
	if m.Type != "BPE" && m.Type != "" {
		return nil, fmt.Errorf(`field "model.type": %q is not supported (only byte-level "BPE")`, m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, errors.New(`field "model.dropout": BPE dropout is not supported`)
	}
	for name, v := range map[string]*string{"continuing_subword_prefix": m.ContinuingSubwordPrefix, "end_of_word_suffix": m.EndOfWordSuffix} {
		if v != nil && *v != "" {
			return nil, fmt.Errorf(`field "model.%s": %q is not supported`, name, *v)
		}
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New(`field "model.vocab": empty`)
	}
	if m.ByteFallback {
		var whole struct{ Model json.RawMessage }
		if err := json.Unmarshal(data, &whole); err != nil {
			return nil, err
		}
		t, err := readSPM(&f, whole.Model)
		if err != nil {
			return nil, err
		}
		t.ignoreMerges = m.IgnoreMerges
		if err := t.finish(&f); err != nil {
			return nil, err
		}
		return t, nil
	}

	t := &Tokenizer{ignoreMerges: m.IgnoreMerges, extra: map[string][]byte{}}
	for tok, id := range m.Vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf(`field "model.vocab": token %q has id %d, outside [0, %d)`, clip(tok), id, maxVocab)
		}
		raw, ok := fromByteLevel(tok)
		if !ok || raw == "" {
			return nil, fmt.Errorf(`field "model.vocab": token %q (id %d) is not spelled in the byte-level alphabet; only byte-level BPE is supported`, clip(tok), id)
		}
		for id >= len(t.pieces) {
			t.pieces = append(t.pieces, "")
		}
		if t.pieces[id] != "" {
			return nil, fmt.Errorf(`field "model.vocab": id %d given to two tokens`, id)
		}
		t.pieces[id] = raw
	}
	order, err := parseMerges(m.Merges, t.pieces, true)
	if err != nil {
		return nil, err
	}
	if err := t.build(order); err != nil {
		return nil, fmt.Errorf(`field "model": %w`, err)
	}
	if err := t.readPipeline(&f); err != nil {
		return nil, err
	}
	if err := t.finish(&f); err != nil {
		return nil, err
	}
	return t, nil
}

// finish installs the added tokens and keeps the sections Dokja does not
// interpret.
func (t *Tokenizer) finish(f *hfFile) error {
	added := make([]AddedToken, len(f.AddedTokens))
	for i, a := range f.AddedTokens {
		added[i] = AddedToken{ID: a.ID, Content: a.Content, Special: a.Special, SingleWord: a.SingleWord,
			LStrip: a.LStrip, RStrip: a.RStrip, Normalized: a.Normalized}
	}
	if err := t.setAdded(added); err != nil {
		return fmt.Errorf(`field "added_tokens": %w`, err)
	}
	for name, raw := range map[string]json.RawMessage{"truncation": f.Truncation, "padding": f.Padding, "post_processor": f.PostProcessor} {
		if !isNull(raw) {
			t.extra[name] = append([]byte(nil), raw...)
		}
	}
	return nil
}

// parseMerges accepts both spellings of merges: "a b" strings (older
// files) and ["a", "b"] pairs (tokenizers 0.20 and later).
func parseMerges(raw json.RawMessage, pieces []string, byteLevel bool) ([][2]int32, error) {
	if isNull(raw) {
		return [][2]int32{}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf(`field "model.merges": want a list: %w`, err)
	}
	ids := make(map[string]int32, len(pieces))
	for id, p := range pieces {
		if p != "" && byteLevel {
			ids[toByteLevel(p)] = int32(id)
		} else if p != "" {
			ids[p] = int32(id)
		}
	}
	order := make([][2]int32, 0, len(items))
	for i, it := range items {
		var a, b string
		var s string
		var pair []string
		if err := json.Unmarshal(it, &s); err == nil {
			var ok bool
			a, b, ok = strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf(`field "model.merges[%d]": %q is not two tokens separated by one space`, i, clip(s))
			}
		} else if err := json.Unmarshal(it, &pair); err == nil && len(pair) == 2 {
			a, b = pair[0], pair[1]
		} else {
			return nil, fmt.Errorf(`field "model.merges[%d]": want "a b" or ["a", "b"], got %s`, i, clip(string(it)))
		}
		ia, okA := ids[a]
		ib, okB := ids[b]
		if !okA || !okB {
			return nil, fmt.Errorf(`field "model.merges[%d]": token %q or %q is not in the vocabulary`, i, clip(a), clip(b))
		}
		order = append(order, [2]int32{ia, ib})
	}
	return order, nil
}

// readPipeline interprets the normalizer, pre-tokenizer and decoder.
func (t *Tokenizer) readPipeline(f *hfFile) error {
	if !isNull(f.Normalizer) {
		var n component
		if err := json.Unmarshal(f.Normalizer, &n); err != nil {
			return fmt.Errorf(`field "normalizer": %w`, err)
		}
		switch {
		case n.Type == "NFC":
			t.nfc = true
		case n.Type == "Sequence" && len(n.Normalizers) == 0:
		case n.Type == "Sequence" && len(n.Normalizers) == 1 && n.Normalizers[0].Type == "NFC":
			t.nfc = true
		default:
			return fmt.Errorf(`field "normalizer": type %q is not supported (only NFC or none)`, n.Type)
		}
	}
	if isNull(f.PreTokenizer) {
		return errors.New(`field "pre_tokenizer": missing; byte-level BPE needs a ByteLevel pre-tokenizer`)
	}
	var p component
	if err := json.Unmarshal(f.PreTokenizer, &p); err != nil {
		return fmt.Errorf(`field "pre_tokenizer": %w`, err)
	}
	pattern, prefix, err := pipelinePattern(p)
	if err != nil {
		return fmt.Errorf(`field "pre_tokenizer": %w`, err)
	}
	if prefix {
		return errors.New(`field "pre_tokenizer": add_prefix_space is not supported`)
	}
	if t.split, err = newSplitter(pattern); err != nil {
		return fmt.Errorf(`field "pre_tokenizer": %w`, err)
	}
	if !isNull(f.Decoder) {
		var d component
		if err := json.Unmarshal(f.Decoder, &d); err != nil {
			return fmt.Errorf(`field "decoder": %w`, err)
		}
		if d.Type != "ByteLevel" {
			return fmt.Errorf(`field "decoder": type %q is not supported (want ByteLevel)`, d.Type)
		}
	}
	return nil
}

// pipelinePattern finds the split pattern of a ByteLevel pre-tokenizer,
// alone (GPT-2 style) or after a Split (Llama 3 and Qwen2 style).
func pipelinePattern(p component) (pattern string, prefix bool, err error) {
	switch p.Type {
	case "ByteLevel":
		if p.UseRegex == nil || *p.UseRegex {
			return PatternGPT2, p.AddPrefixSpace, nil
		}
		return "", false, errors.New("ByteLevel with use_regex false needs a Split before it")
	case "Sequence":
		if len(p.Pretokenizers) != 2 || p.Pretokenizers[0].Type != "Split" || p.Pretokenizers[1].Type != "ByteLevel" {
			return "", false, errors.New("only the sequence [Split, ByteLevel] is supported")
		}
		s, bl := p.Pretokenizers[0], p.Pretokenizers[1]
		if bl.UseRegex != nil && *bl.UseRegex {
			return "", false, errors.New("ByteLevel after Split must have use_regex false")
		}
		if s.Behavior != "Isolated" || s.Invert {
			return "", false, fmt.Errorf("Split behavior %q (invert %v) is not supported (want Isolated)", s.Behavior, s.Invert)
		}
		var pat struct{ Regex *string }
		if err := json.Unmarshal(s.Pattern, &pat); err != nil || pat.Regex == nil {
			return "", false, errors.New(`Split pattern must be {"Regex": "..."}`)
		}
		return *pat.Regex, bl.AddPrefixSpace, nil
	}
	return "", false, fmt.Errorf("type %q is not supported (want ByteLevel, or Sequence of Split and ByteLevel)", p.Type)
}

// SaveJSON writes the tokenizer as a Hugging Face tokenizer.json,
// atomically: a temporary file is synced, then renamed over path.
func (t *Tokenizer) SaveJSON(path string) error {
	return t.SaveJSONWith(path, JSONOptions{})
}

// SaveJSONWith is SaveJSON with options.
func (t *Tokenizer) SaveJSONWith(path string, opt JSONOptions) error {
	return atomicfile.Write(path, func(w io.Writer) error { return t.WriteJSON(w, opt) })
}

// JSONOptions adjusts WriteJSON.
type JSONOptions struct {
	// LegacyMerges writes merges as "a b" strings, for tokenizers
	// releases older than 0.20, instead of ["a", "b"] pairs.
	LegacyMerges bool
}

// WriteJSON writes the tokenizer in Hugging Face's tokenizer.json layout.
func (t *Tokenizer) WriteJSON(w io.Writer, opt JSONOptions) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	str := func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s) // strings always encode
		return strings.TrimSuffix(b.String(), "\n")
	}
	raw := func(name, def string) string {
		if v, ok := t.extra[name]; ok {
			return string(v)
		}
		return def
	}
	fmt.Fprintf(bw, "{\n  \"version\": \"1.0\",\n  \"truncation\": %s,\n  \"padding\": %s,\n  \"added_tokens\": [",
		raw("truncation", "null"), raw("padding", "null"))
	for i, a := range t.AddedTokens() {
		if i > 0 {
			bw.WriteString(",")
		}
		fmt.Fprintf(bw, "\n    {\"id\": %d, \"content\": %s, \"single_word\": %v, \"lstrip\": %v, \"rstrip\": %v, \"normalized\": %v, \"special\": %v}",
			a.ID, str(a.Content), a.SingleWord, a.LStrip, a.RStrip, a.Normalized, a.Special)
	}
	if t.sp != nil {
		// Written back as read: Dokja applies these files, it does not
		// build them.
		sec := func(name string) string {
			if v := t.sp.sections[name]; !isNull(v) {
				return string(v)
			}
			return "null"
		}
		fmt.Fprintf(bw, "\n  ],\n  \"normalizer\": %s,\n  \"pre_tokenizer\": %s,\n  \"post_processor\": %s,\n  \"decoder\": %s,\n  \"model\": %s\n}\n",
			sec("normalizer"), sec("pre_tokenizer"), raw("post_processor", "null"), sec("decoder"), sec("model"))
		return bw.Flush()
	}
	normalizer := "null"
	if t.nfc {
		normalizer = `{"type": "NFC"}`
	}
	byteLevel := `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}`
	var pre string
	if t.split.pattern == PatternGPT2 {
		pre = `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`
	} else {
		pre = fmt.Sprintf(`{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": %s}, "behavior": "Isolated", "invert": false}, %s]}`,
			str(t.split.pattern), byteLevel)
	}
	fmt.Fprintf(bw, "\n  ],\n  \"normalizer\": %s,\n  \"pre_tokenizer\": %s,\n  \"post_processor\": %s,\n  \"decoder\": %s,\n",
		normalizer, pre, raw("post_processor", byteLevel), byteLevel)
	fmt.Fprintf(bw, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": %v,\n    \"vocab\": {", t.ignoreMerges)
	first := true
	for id, p := range t.pieces {
		if p == "" {
			continue
		}
		if sid, isAdded := t.special[p]; isAdded && sid == id {
			if _, ordinary := t.vocab[p]; !ordinary || t.vocab[p] != id {
				continue
			}
		}
		if !first {
			bw.WriteString(",")
		}
		first = false
		fmt.Fprintf(bw, "\n      %s: %d", str(toByteLevel(p)), id)
	}
	bw.WriteString("\n    },\n    \"merges\": [")
	for i, m := range t.mergeOrder() {
		if i > 0 {
			bw.WriteString(",")
		}
		a, b := str(toByteLevel(t.pieces[m[0]])), str(toByteLevel(t.pieces[m[1]]))
		if opt.LegacyMerges {
			fmt.Fprintf(bw, "\n      %s", str(toByteLevel(t.pieces[m[0]])+" "+toByteLevel(t.pieces[m[1]])))
		} else {
			fmt.Fprintf(bw, "\n      [%s, %s]", a, b)
		}
	}
	bw.WriteString("\n    ]\n  }\n}\n")
	return bw.Flush()
}

// Load opens a tokenizer by name or path: "o200k" and "cl100k" name the
// built-in tiktoken encodings; any other path is read as a tokenizer.json
// (a folder is taken to hold one), except a .tiktoken rank file, which
// holds ranks only: a file named cl100k_base.tiktoken or
// o200k_base.tiktoken (as OpenAI publishes them) gets that encoding's
// pattern and special tokens, and any other the o200k pattern and none.
func Load(spec string) (*Tokenizer, error) {
	if IsNamed(spec) {
		return Named(spec)
	}
	if strings.HasSuffix(spec, ".tiktoken") {
		base := strings.TrimSuffix(filepath.Base(spec), ".tiktoken")
		if e, ok := namedEncodings[base]; ok {
			return LoadTiktoken(spec, e.pattern, e.specials)
		}
		return LoadTiktoken(spec, PatternO200K, nil)
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		spec = filepath.Join(spec, "tokenizer.json")
	}
	return LoadJSON(spec)
}
