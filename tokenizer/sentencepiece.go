package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// spm is the SentencePiece-style BPE of tokenizer.json files with
// byte_fallback (Llama 2, Mistral, Gemma): tokens are spelled with ▁ for
// a space, words are merged from their characters rather than their
// bytes, and a character the vocabulary lacks becomes its UTF-8 bytes as
// <0xNN> tokens. Dokja reads and applies such files (it trains byte-level
// tokenizers only) and writes their sections back as read.
type spm struct {
	// prepend puts ▁ before every segment of text between added tokens
	// (the Prepend normalizer, Metaspace's "always"), or before the first
	// only (Metaspace's "first").
	prepend, prependFirst bool
	// split cuts a segment before each ▁ (Metaspace's split: true);
	// otherwise a whole segment is merged as one piece.
	split bool
	// stripLead drops the first space of decoded text (the Strip decoder
	// after Fuse, or Metaspace's decoder with a prepend scheme).
	stripLead bool
	unk       int32      // unk_token's id, or -1
	byteTok   [256]int32 // the id of <0xNN>, or -1
	raw       []string   // id → bytes: ▁ as a space, <0xNN> as its byte
	rawID     map[string]int
	// sections are normalizer, pre_tokenizer, decoder and model, as read.
	sections map[string]json.RawMessage
}

const metaspace = "▁"

// IsSentencePiece reports whether t is a SentencePiece-style BPE
// (byte_fallback) rather than a byte-level one.
func (t *Tokenizer) IsSentencePiece() bool { return t.sp != nil }

// readSPM builds t from a byte_fallback BPE file; model is its "model"
// section as written.
func readSPM(f *hfFile, model json.RawMessage) (*Tokenizer, error) {
	m := f.Model
	t := &Tokenizer{extra: map[string][]byte{}}
	sp := &spm{unk: -1, sections: map[string]json.RawMessage{}}
	for i := range sp.byteTok {
		sp.byteTok[i] = -1
	}
	for tok, id := range m.Vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf(`field "model.vocab": token %q has id %d, outside [0, %d)`, clip(tok), id, maxVocab)
		}
		if tok == "" || !utf8.ValidString(tok) {
			return nil, fmt.Errorf(`field "model.vocab": id %d has an empty or invalid token`, id)
		}
		for id >= len(t.pieces) {
			t.pieces = append(t.pieces, "")
		}
		if t.pieces[id] != "" {
			return nil, fmt.Errorf(`field "model.vocab": id %d given to two tokens`, id)
		}
		t.pieces[id] = tok
	}
	sp.raw = make([]string, len(t.pieces))
	for id, p := range t.pieces {
		if b, ok := byteToken(p); ok {
			sp.byteTok[b] = int32(id)
			sp.raw[id] = string([]byte{b})
		} else {
			sp.raw[id] = strings.ReplaceAll(p, metaspace, " ")
		}
	}
	for b, id := range sp.byteTok {
		if id < 0 {
			return nil, fmt.Errorf(`field "model.vocab": byte_fallback needs the token <0x%02X>`, b)
		}
	}
	order, err := parseMerges(m.Merges, t.pieces, false)
	if err != nil {
		return nil, err
	}
	t.sp = sp
	if err := t.build(order); err != nil {
		return nil, fmt.Errorf(`field "model": %w`, err)
	}
	if m.UnkToken != nil {
		id, ok := t.vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf(`field "model.unk_token": %q is not in the vocabulary`, clip(*m.UnkToken))
		}
		sp.unk = int32(id)
	}
	if err := sp.readPipeline(f); err != nil {
		return nil, err
	}
	sp.sections["model"] = append(json.RawMessage(nil), model...)
	for name, v := range map[string]json.RawMessage{"normalizer": f.Normalizer, "pre_tokenizer": f.PreTokenizer, "decoder": f.Decoder} {
		sp.sections[name] = append(json.RawMessage(nil), v...)
	}
	return t, nil
}

// byteToken reads a byte-fallback token, <0xNN>.
func byteToken(p string) (byte, bool) {
	if len(p) != 6 || !strings.HasPrefix(p, "<0x") || p[5] != '>' {
		return 0, false
	}
	var b byte
	for _, c := range p[3:5] {
		switch {
		case c >= '0' && c <= '9':
			b = b<<4 | byte(c-'0')
		case c >= 'A' && c <= 'F':
			b = b<<4 | byte(c-'A'+10)
		default:
			return 0, false
		}
	}
	return b, true
}

// readPipeline interprets the three layouts these files use: Replace
// " "→▁ (Gemma, with a no-op Split on " "), Prepend ▁ then Replace (Llama
// 2, Mistral), or a Metaspace pre-tokenizer; and the matching decoders.
func (sp *spm) readPipeline(f *hfFile) error {
	var n component
	if !isNull(f.Normalizer) {
		if err := json.Unmarshal(f.Normalizer, &n); err != nil {
			return fmt.Errorf(`field "normalizer": %w`, err)
		}
	}
	steps := []component{n}
	if n.Type == "Sequence" {
		steps = n.Normalizers
	}
	replaced := false
	for _, s := range steps {
		switch s.Type {
		case "":
		case "Prepend":
			if s.Prepend != metaspace {
				return fmt.Errorf(`field "normalizer": Prepend %q is not supported (want ▁)`, s.Prepend)
			}
			sp.prepend = true
		case "Replace":
			var pat struct{ String *string }
			if json.Unmarshal(s.Pattern, &pat) != nil || pat.String == nil || *pat.String != " " || s.Content != metaspace {
				return errors.New(`field "normalizer": only Replace " " with ▁ is supported`)
			}
			replaced = true
		default:
			return fmt.Errorf(`field "normalizer": type %q is not supported with byte_fallback`, s.Type)
		}
	}
	var p component
	if !isNull(f.PreTokenizer) {
		if err := json.Unmarshal(f.PreTokenizer, &p); err != nil {
			return fmt.Errorf(`field "pre_tokenizer": %w`, err)
		}
	}
	switch p.Type {
	case "":
	case "Split":
		// Gemma splits on " " after the normalizer has replaced every
		// space: nothing is left to split.
		var pat struct{ String *string }
		if json.Unmarshal(p.Pattern, &pat) != nil || pat.String == nil || *pat.String != " " || !replaced {
			return errors.New(`field "pre_tokenizer": only Split on " " after Replace " " → ▁ is supported`)
		}
	case "Metaspace":
		if p.Replacement != "" && p.Replacement != metaspace {
			return fmt.Errorf(`field "pre_tokenizer": Metaspace replacement %q is not supported`, p.Replacement)
		}
		replaced = true
		sp.split = p.Split == nil || *p.Split
		switch p.PrependScheme {
		case "", "always":
			sp.prepend = p.PrependScheme != "" || p.AddPrefixSpace
		case "first":
			sp.prepend, sp.prependFirst = true, true
		case "never":
		default:
			return fmt.Errorf(`field "pre_tokenizer": prepend_scheme %q is not supported`, p.PrependScheme)
		}
	default:
		return fmt.Errorf(`field "pre_tokenizer": type %q is not supported with byte_fallback`, p.Type)
	}
	if !replaced {
		return errors.New(`field "normalizer": byte_fallback files must replace spaces with ▁ (Replace or Metaspace)`)
	}
	var d component
	if !isNull(f.Decoder) {
		if err := json.Unmarshal(f.Decoder, &d); err != nil {
			return fmt.Errorf(`field "decoder": %w`, err)
		}
	}
	decs := []component{d}
	if d.Type == "Sequence" {
		decs = d.Decoders
	}
	for _, s := range decs {
		switch s.Type {
		case "", "Replace", "ByteFallback", "Fuse":
		case "Strip":
			if s.Content != " " || s.Start > 1 || s.Stop != 0 {
				return errors.New(`field "decoder": only Strip of one leading " " is supported`)
			}
			sp.stripLead = s.Start == 1
		case "Metaspace":
			sp.stripLead = s.PrependScheme != "never"
		default:
			return fmt.Errorf(`field "decoder": type %q is not supported with byte_fallback`, s.Type)
		}
	}
	return nil
}

// appendSPM encodes one segment of text between added tokens; first
// tells whether it opens the input.
func (t *Tokenizer) appendSPM(dst []int, text string, first bool) []int {
	if text == "" {
		return dst
	}
	sp := t.sp
	s := strings.ReplaceAll(text, " ", metaspace)
	if sp.prepend && (first || !sp.prependFirst) {
		s = metaspace + s
	}
	if !sp.split {
		return t.appendPieceSPM(dst, s)
	}
	for s != "" {
		end := strings.Index(s[1:], metaspace)
		if end < 0 {
			return t.appendPieceSPM(dst, s)
		}
		dst = t.appendPieceSPM(dst, s[:end+1])
		s = s[end+1:]
	}
	return dst
}

// appendPieceSPM merges a piece from its characters: each one's token, or
// its bytes' <0xNN> tokens where the vocabulary lacks it.
func (t *Tokenizer) appendPieceSPM(dst []int, piece string) []int {
	if id, ok := t.vocab[piece]; ok && t.ignoreMerges {
		return append(dst, id)
	}
	ids := make([]int32, 0, len(piece))
	for i, r := range piece {
		n := utf8.RuneLen(r)
		if id, ok := t.vocab[piece[i:i+n]]; ok {
			ids = append(ids, int32(id))
			continue
		}
		for k := i; k < i+n; k++ {
			ids = append(ids, t.sp.byteTok[piece[k]])
		}
	}
	for _, id := range t.mergeIDs(ids) {
		dst = append(dst, int(id))
	}
	return dst
}

// decodeSPM is Decode for these files: tokens' bytes, the first space
// dropped where the decoder strips it.
func (t *Tokenizer) decodeSPM(s string) string {
	if t.sp.stripLead {
		s = strings.TrimPrefix(s, " ")
	}
	return s
}
