package train

import (
	"context"
	"iter"
	"math"
	"strings"
	"testing"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

func trainTokenizer(t *testing.T, text string, vocab int, special []string) *tokenizer.Tokenizer {
	t.Helper()
	texts := iter.Seq2[string, error](func(yield func(string, error) bool) {
		for _, line := range strings.Split(text, "\n") {
			if !yield(line, nil) {
				return
			}
		}
	})
	wc, err := tokenizer.CountWords(context.Background(), texts, tokenizer.CountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Train(context.Background(), wc, tokenizer.TrainOptions{VocabSize: vocab, Special: special})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSwapVocabulary(t *testing.T) {
	english := strings.Repeat("the cat sat on the mat and the dog ran to the cat\nthe model reads the data\n", 20)
	korean := strings.Repeat("고양이가 매트 위에 앉았다\n모델이 데이터를 읽는다\nthe cat and the model\n", 20)
	oldTok := trainTokenizer(t, english, 300, []string{"<|endoftext|>"})
	newTok := trainTokenizer(t, korean, 330, []string{"<|endoftext|>", "<|im_start|>"})
	for _, tied := range []bool{true, false} {
		c := &model.Config{VocabSize: oldTok.VocabSize(), HiddenSize: 8, IntermediateSize: 16, NumHiddenLayers: 1,
			NumAttentionHeads: 2, NumKeyValueHeads: 2, HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: tied,
			HiddenAct: "silu", EOSTokenID: float64(oldTok.VocabSize() - 1)}
		m, err := model.NewRandom(c, 5)
		if err != nil {
			t.Fatal(err)
		}
		oldEmbed, oldHead := append([]float32(nil), m.Embed...), append([]float32(nil), m.Head.W...)
		st, err := SwapVocabulary(m, oldTok, newTok)
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.VocabSize != newTok.VocabSize() || len(m.Embed) != newTok.VocabSize()*8 || len(m.Head.W) != len(m.Embed) {
			t.Fatalf("after the swap: vocab %d, embed %d, head %d", m.Config.VocabSize, len(m.Embed), len(m.Head.W))
		}
		if st.Kept < 256+1 || st.Mapped == 0 || st.Mean != 1 {
			t.Errorf("swap stats %+v: want the 256 bytes, the shared words and <|endoftext|> kept, Korean merges mapped, <|im_start|> as a mean row", st)
		}
		eot, _ := newTok.TokenID("<|endoftext|>")
		if m.Config.EOSTokenID != eot {
			t.Errorf("eos_token_id %v, want %d", m.Config.EOSTokenID, eot)
		}
		d := 8
		row := func(s []float32, id int) []float32 { return s[id*d : (id+1)*d] }
		for id := range newTok.VocabSize() {
			tok, _ := newTok.Token(id)
			var want []float64
			if old, ok := oldTok.TokenID(tok); ok {
				want = toF64(row(oldEmbed, old))
				if !tied && !near(toF64(row(m.Head.W, id)), toF64(row(oldHead, old))) {
					t.Errorf("untied head row of shared token %q not kept", tok)
				}
			} else if pieces, err := encodeBytes(oldTok, tok); err == nil && !strings.HasPrefix(tok, "<|") {
				want = make([]float64, d)
				for _, p := range pieces {
					for j, v := range row(oldEmbed, p) {
						want[j] += float64(v) / float64(len(pieces))
					}
				}
			} else {
				continue
			}
			if !near(toF64(row(m.Embed, id)), want) {
				t.Fatalf("tied=%v: row of %q is %v, want %v", tied, tok, row(m.Embed, id), want)
			}
		}
	}
}

func toF64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func near(a, b []float64) bool {
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-6 {
			return false
		}
	}
	return len(a) == len(b)
}
