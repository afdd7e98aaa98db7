package tokenizer

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	for _, tc := range []struct {
		raw           string
		before, after []int
		err           string
	}{
		{`null`, nil, nil, ""},
		{`{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
		  "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [50281], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [50282], "tokens": ["[SEP]"]}}}`, []int{50281}, []int{50282}, ""},
		{`{"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
		  "special_tokens": {"</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}`, nil, []int{2}, ""},
		{`{"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": true, "add_prefix_space": false}`, []int{0}, []int{2}, ""},
		{`{"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}`, []int{101}, []int{102}, ""},
		{`{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true}`, nil, nil, ""},
		{`{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[X]", "type_id": 0}}], "special_tokens": {}}`, nil, nil, `"[X]" has no ids`},
		{`{"type": "Sequence", "processors": []}`, nil, nil, `"Sequence" is not supported`},
	} {
		before, after, err := ParseTemplate(json.RawMessage(tc.raw))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(before, tc.before) || !slices.Equal(after, tc.after) {
			t.Errorf("%s: %v %v %v, want %v %v", tc.raw, before, after, err, tc.before, tc.after)
		}
	}
	tok, err := LoadJSON(filepath.Join("testdata", "tiny.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b, a, err := tok.Template(); err != nil || b != nil || a != nil {
		t.Errorf("a tokenizer without a post_processor: %v %v %v", b, a, err)
	}
}

func TestParsePairTemplate(t *testing.T) {
	a, b := []int{10, 11}, []int{20}
	for _, tc := range []struct {
		raw  string
		want []int
	}{
		{`{"type": "TemplateProcessing", "single": [], "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
		  "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}`, []int{0, 10, 11, 2, 2, 20, 2}},
		{`{"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]}`, []int{0, 10, 11, 2, 2, 20, 2}},
		{`{"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}`, []int{101, 10, 11, 102, 20, 102}},
	} {
		f, err := ParsePairTemplate(json.RawMessage(tc.raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := f(a, b); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.raw[:30], got, tc.want)
		}
	}
	if _, err := ParsePairTemplate(json.RawMessage(`null`)); err == nil {
		t.Error("no post_processor: no error")
	}
}
