package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
)

// ParseTemplate reads a tokenizer.json post_processor for a single
// sequence: the special token ids it puts before and after the text
// (TemplateProcessing's "single", or BertProcessing and
// RobertaProcessing's cls and sep). A null post_processor adds nothing.
func ParseTemplate(raw json.RawMessage) (before, after []int, err error) {
	if isNull(raw) {
		return nil, nil, nil
	}
	var p struct {
		Type   string `json:"type"`
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct{} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
		CLS []any `json:"cls"`
		SEP []any `json:"sep"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, nil, fmt.Errorf(`field "post_processor": %w`, err)
	}
	switch p.Type {
	case "TemplateProcessing":
		seen := false
		for _, piece := range p.Single {
			switch {
			case piece.Sequence != nil:
				seen = true
			case piece.SpecialToken != nil:
				ids, ok := p.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return nil, nil, fmt.Errorf(`field "post_processor": special token %q has no ids`, piece.SpecialToken.ID)
				}
				if seen {
					after = append(after, ids.IDs...)
				} else {
					before = append(before, ids.IDs...)
				}
			}
		}
		return before, after, nil
	case "BertProcessing", "RobertaProcessing":
		id := func(pair []any) (int, error) {
			if len(pair) == 2 {
				if v, ok := pair[1].(float64); ok {
					return int(v), nil
				}
			}
			return 0, fmt.Errorf(`field "post_processor": want [token, id] pairs for cls and sep`)
		}
		cls, err := id(p.CLS)
		if err != nil {
			return nil, nil, err
		}
		sep, err := id(p.SEP)
		if err != nil {
			return nil, nil, err
		}
		return []int{cls}, []int{sep}, nil
	case "ByteLevel":
		return nil, nil, nil // offsets only
	}
	return nil, nil, fmt.Errorf(`field "post_processor.type": %q is not supported`, p.Type)
}

// Template returns the special token ids the tokenizer's post_processor
// puts around a single sequence (see ParseTemplate).
func (t *Tokenizer) Template() (before, after []int, err error) {
	return ParseTemplate(t.extra["post_processor"])
}

// ParsePairTemplate reads how a post_processor joins two sequences (a
// query and a document for a cross-encoder): TemplateProcessing's "pair",
// RobertaProcessing's <s> A </s></s> B </s>, BertProcessing's
// [CLS] A [SEP] B [SEP].
func ParsePairTemplate(raw json.RawMessage) (func(a, b []int) []int, error) {
	if isNull(raw) {
		return nil, fmt.Errorf(`field "post_processor": none, so no pair template`)
	}
	var p struct {
		Type string `json:"type"`
		Pair []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		} `json:"pair"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf(`field "post_processor": %w`, err)
	}
	switch p.Type {
	case "TemplateProcessing":
		if len(p.Pair) == 0 {
			return nil, fmt.Errorf(`field "post_processor": no pair template`)
		}
		for _, piece := range p.Pair {
			if piece.SpecialToken != nil {
				if _, ok := p.SpecialTokens[piece.SpecialToken.ID]; !ok {
					return nil, fmt.Errorf(`field "post_processor": special token %q has no ids`, piece.SpecialToken.ID)
				}
			}
		}
		return func(a, b []int) []int {
			var out []int
			for _, piece := range p.Pair {
				switch {
				case piece.SpecialToken != nil:
					out = append(out, p.SpecialTokens[piece.SpecialToken.ID].IDs...)
				case piece.Sequence != nil && piece.Sequence.ID == "A":
					out = append(out, a...)
				case piece.Sequence != nil:
					out = append(out, b...)
				}
			}
			return out
		}, nil
	case "RobertaProcessing", "BertProcessing":
		before, after, err := ParseTemplate(raw)
		if err != nil {
			return nil, err
		}
		roberta := p.Type == "RobertaProcessing"
		return func(a, b []int) []int {
			out := append(append(append([]int(nil), before...), a...), after...)
			if roberta {
				out = append(out, after...)
			}
			return append(append(out, b...), after...)
		}, nil
	}
	return nil, fmt.Errorf(`field "post_processor.type": %q has no pair template Dokja reads`, p.Type)
}

// ModelType reads a tokenizer.json's model.type ("BPE", "WordPiece",
// "Unigram"), or "" if the file cannot be read as one.
func ModelType(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var f struct {
		Model struct {
			Type string `json:"type"`
		} `json:"model"`
	}
	if json.Unmarshal(b, &f) != nil {
		return ""
	}
	return f.Model.Type
}

// DecodeFile decodes a tokenizer.json into v, naming the file in errors.
func DecodeFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
