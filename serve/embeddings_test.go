package serve

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/infer"
	"github.com/openai/openai-go/v3"
)

// /v1/embeddings answers the official client with what the encoder
// computes in process: token ids in, pooled and normalised vectors out,
// as floats or base64; strings need a tokenizer Dokja reads.
func TestEmbeddings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "xlmr")
	os.MkdirAll(filepath.Join(dir, "1_Pooling"), 0o755)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join("..", "encoder", "testdata", "tiny-xlmr", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	// BGE-M3's sentence-transformers files: CLS pooling, then Normalize.
	os.WriteFile(filepath.Join(dir, "1_Pooling", "config.json"), []byte(`{"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}`), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"idx": 0, "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"idx": 2, "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`), 0o644)
	emb, err := LoadEmbedder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if emb.Pooling != encoder.PoolCLS || !emb.Normalize || emb.Tok != nil {
		t.Fatalf("embedder %+v", emb)
	}
	e, _, _ := tinyEngine(t, infer.EngineOptions{})
	base := startServer(t, Options{Embedders: []*Embedder{emb}}, chatModel(t, e))
	c := client(base, "")
	ids := [][]int64{{0, 17, 42, 2}, {0, 5, 2}}
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "xlmr",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokenArrays: ids}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || res.Usage.PromptTokens != 7 {
		t.Fatalf("response %+v", res)
	}
	for i, d := range res.Data {
		want := make([]int, len(ids[i]))
		for j, v := range ids[i] {
			want[j] = int(v)
		}
		h, err := emb.Model.Forward(want)
		if err != nil {
			t.Fatal(err)
		}
		v := encoder.Pool(h, 32, encoder.PoolCLS)
		encoder.Normalize(v)
		var norm float64
		for j, x := range d.Embedding {
			norm += x * x
			if math.Abs(x-float64(v[j])) > 1e-6 {
				t.Fatalf("input %d, dimension %d: served %v, in process %v", i, j, x, v[j])
			}
		}
		if math.Abs(norm-1) > 1e-5 || d.Index != int64(i) {
			t.Errorf("input %d: norm %v, index %d", i, norm, d.Index)
		}
	}
	// base64: little-endian float32s.
	code, out := postJSON(t, base+"/v1/embeddings", `{"model":"xlmr","input":[0,17,42,2],"encoding_format":"base64"}`)
	raw, err := base64.StdEncoding.DecodeString(out["data"].([]any)[0].(map[string]any)["embedding"].(string))
	if code != 200 || err != nil || len(raw) != 128 {
		t.Fatalf("base64: %d %v %d bytes", code, err, len(raw))
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(raw)); math.Abs(float64(got)-res.Data[0].Embedding[0]) > 1e-6 {
		t.Errorf("base64 first value %v, float %v", got, res.Data[0].Embedding[0])
	}
	for _, tc := range []struct{ body, param, want string }{
		{`{"model":"xlmr","input":"안녕"}`, "input", "token ids only"},
		{`{"model":"xlmr","input":[0,999999]}`, "input", "outside the vocabulary"},
		{`{"model":"xlmr","input":[]}`, "input", "input is required"},
		{`{"model":"xlmr","input":[[0,1],[]]}`, "input", "has 0 tokens"},
		{`{"model":"xlmr","input":[0,1],"dimensions":16}`, "dimensions", "not trained to be shortened"},
		{`{"model":"xlmr","input":[0,1],"encoding_format":"int8"}`, "encoding_format", "float or base64"},
		{`{"model":"tiny","input":[0,1]}`, "model", "not an embedding model"},
	} {
		code, out := postJSON(t, base+"/v1/embeddings", tc.body)
		e, _ := out["error"].(map[string]any)
		if code/100 != 4 || e == nil || e["param"] != tc.param || !strings.Contains(e["message"].(string), tc.want) {
			t.Errorf("%s: %d %v; want param %s and %q", tc.body, code, out, tc.param, tc.want)
		}
	}
	// The npm client, with floats and with its default base64 (decoded
	// by the client), gets the same vectors.
	if dir := filepath.Join("testdata", "openaijs"); jsClientReady(t, dir) {
		cmd := exec.Command("node", filepath.Join(dir, "embeddings.mjs"), base+"/v1", "xlmr")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node embeddings.mjs: %v", err)
		}
		var got struct{ Float, Base64 [][]float64 }
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		for _, vs := range [][][]float64{got.Float, got.Base64} {
			if len(vs) != 2 {
				t.Fatalf("npm client: %s", out)
			}
			for i, v := range vs {
				for j, x := range v {
					if math.Abs(x-res.Data[i].Embedding[j]) > 1e-6 {
						t.Fatalf("npm client, input %d dimension %d: %v, openai-go %v", i, j, x, res.Data[i].Embedding[j])
					}
				}
			}
		}
	}
	// The embedder is listed beside the chat model.
	models, err := c.Models.List(context.Background())
	if err != nil || len(models.Data) != 2 {
		t.Errorf("models: %+v %v", models, err)
	}
}

// A BERT folder with a WordPiece tokenizer takes strings: they are
// encoded inside [CLS] ... [SEP] and embedded as in process.
func TestEmbeddingsWordPiece(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bert")
	copyFiles(t, dir, map[string]string{
		filepath.Join("..", "encoder", "testdata", "tiny-bert", "config.json"):       "config.json",
		filepath.Join("..", "encoder", "testdata", "tiny-bert", "model.safetensors"): "model.safetensors",
		filepath.Join("..", "tokenizer", "wordpiece", "testdata", "cased.json"):      "tokenizer.json",
	})
	emb, err := LoadEmbedder(dir)
	if err != nil || emb.Tok == nil || emb.Pooling != encoder.PoolMean || !emb.Normalize {
		t.Fatalf("embedder %+v %v", emb, err)
	}
	base := startServer(t, Options{Embedders: []*Embedder{emb}})
	c := client(base, "")
	text := "서울에서 회의를 엽니다."
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "bert",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(text)}})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := emb.Tok.Encode(text)
	if ids[0] != 2 || ids[len(ids)-1] != 3 || res.Usage.PromptTokens != int64(len(ids)) {
		t.Fatalf("ids %v (usage %d): want [CLS] ... [SEP]", ids, res.Usage.PromptTokens)
	}
	h, err := emb.Model.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	v := encoder.Pool(h, 32, encoder.PoolMean)
	encoder.Normalize(v)
	for j, x := range res.Data[0].Embedding {
		if math.Abs(x-float64(v[j])) > 1e-6 {
			t.Fatalf("dimension %d: served %v, in process %v", j, x, v[j])
		}
	}
}

// An XLM-RoBERTa folder with a Unigram tokenizer takes strings, encoded
// inside <s> ... </s>.
func TestEmbeddingsUnigram(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "xlmr")
	copyFiles(t, dir, map[string]string{
		filepath.Join("..", "encoder", "testdata", "tiny-xlmr", "config.json"):       "config.json",
		filepath.Join("..", "encoder", "testdata", "tiny-xlmr", "model.safetensors"): "model.safetensors",
		filepath.Join("..", "tokenizer", "unigram", "testdata", "xlmr-like.json"):    "tokenizer.json",
	})
	emb, err := LoadEmbedder(dir)
	if err != nil || emb.Tok == nil {
		t.Fatalf("embedder %+v %v", emb, err)
	}
	ids, _ := emb.Tok.Encode("서울에서 회의를 엽니다.")
	if ids[0] != 0 || ids[len(ids)-1] != 2 {
		t.Fatalf("ids %v: want <s> ... </s>", ids)
	}
	base := startServer(t, Options{Embedders: []*Embedder{emb}})
	c := client(base, "")
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "xlmr",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("서울에서 회의를 엽니다.")}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := emb.Embed(context.Background(), []string{"서울에서 회의를 엽니다."})
	if err != nil {
		t.Fatal(err)
	}
	for j, x := range res.Data[0].Embedding {
		if math.Abs(x-float64(want[0][j])) > 1e-6 {
			t.Fatalf("dimension %d: served %v, in process %v", j, x, want[0][j])
		}
	}
}

// copyFiles copies test fixtures (source path -> name) into dir.
func copyFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for src, dst := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
