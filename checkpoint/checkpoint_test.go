package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// testModel is a small Llama whose 64-wide rows quantize to Q8_0 blocks,
// with the byte-level test tokenizer.
func testModel(t *testing.T) (*model.Model, *tokenizer.Tokenizer) {
	t.Helper()
	tok, err := tokenizer.LoadJSON(filepath.Join("..", "tokenizer", "testdata", "tiny.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := &model.Config{Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama", VocabSize: 300, HiddenSize: 64,
		IntermediateSize: 128, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 16, HiddenAct: "silu",
		MaxPositionEmbeddings: 128, RMSNormEps: 1e-5, RopeTheta: 10000, BOSTokenID: float64(1), EOSTokenID: float64(2)}
	m, err := model.NewRandom(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

const template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}"

func TestOpenFolder(t *testing.T) {
	m, tok := testModel(t)
	dir := t.TempDir()
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	if ck, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "tokenizer") {
		t.Fatalf("a folder without tokenizer.json: %v, %+v", err, ck)
	}
	ck, err := Open(dir, Options{TokenizerOptional: true})
	if err != nil || ck.Tokenizer != nil || ck.Chat.Source != "" || ck.GGUF {
		t.Fatalf("TokenizerOptional: %v, %+v", err, ck)
	}
	if err := tok.SaveJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"chat_template": template, "bos_token": "<s>", "eos_token": map[string]any{"content": "</s>"}})
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644)
	ck, err = Open(dir, Options{Kernels: "portable"})
	if err != nil {
		t.Fatal(err)
	}
	if ck.Tokenizer.VocabSize() != tok.VocabSize() || ck.Model.K.Name() != "portable" || !slices.Equal(ck.Model.Embed, m.Embed) {
		t.Errorf("opened folder: tokenizer %d ids, kernels %s", ck.Tokenizer.VocabSize(), ck.Model.K.Name())
	}
	if ck.Chat.Source != template || ck.Chat.BOS != "<s>" || ck.Chat.EOS != "</s>" || !strings.HasSuffix(ck.Chat.Origin, "tokenizer_config.json") {
		t.Errorf("chat template from tokenizer_config.json: %+v", ck.Chat)
	}
	// A chat_template.jinja beside it is what recent releases ship.
	os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte("{{ messages[0].content }}"), 0o644)
	if c, err := ReadChatTemplate(dir); err != nil || c.Source != "{{ messages[0].content }}" || c.EOS != "</s>" || !strings.HasSuffix(c.Origin, "chat_template.jinja") {
		t.Errorf("chat_template.jinja: %v %+v", err, c)
	}
	info, err := Inspect(dir)
	if err != nil || info.Config.NumHiddenLayers != 2 || info.Types["F32"] == 0 || info.Bytes < int64(4*m.NumParams()) || info.Tokenizer == nil {
		t.Errorf("Inspect: %v %+v", err, info)
	}
	plain := filepath.Join(dir, "config.json")
	if _, err := Open(plain, Options{}); err == nil || !strings.Contains(err.Error(), "neither a checkpoint folder") {
		t.Errorf("a JSON file: %v", err)
	}
}

func TestOpenGGUF(t *testing.T) {
	m, tok := testModel(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := m.SaveGGUFWith(path, tok, "q8_0", model.GGUFSaveOptions{ChatTemplate: template}); err != nil {
		t.Fatal(err)
	}
	ck, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !ck.GGUF || ck.Model.Layers[0].Q.Q == nil || ck.Tokenizer == nil {
		t.Fatalf("GGUF opened for inference should keep its Q8_0 blocks: %+v", ck)
	}
	if ck.Chat.Source != template || ck.Chat.Origin != path {
		t.Errorf("tokenizer.chat_template: %+v", ck.Chat)
	}
	flat, err := Open(path, Options{Dequantize: true})
	if err != nil || flat.Model.Layers[0].Q.Q != nil || len(flat.Model.Layers[0].Q.W) == 0 {
		t.Fatalf("Dequantize: %v", err)
	}
	// A GGUF file is known by its magic too.
	bare := filepath.Join(dir, "model-file")
	data, _ := os.ReadFile(path)
	os.WriteFile(bare, data, 0o644)
	if !IsGGUF(bare) || IsGGUF(filepath.Join(dir, "none")) {
		t.Error("IsGGUF by magic")
	}
	info, err := Inspect(path)
	if err != nil || info.Types["Q8_0"] == 0 || info.Tokenizer == nil || info.Config.HiddenSize != 64 || info.Chat.Source != template {
		t.Errorf("Inspect: %v %+v", err, info)
	}
	// Without a tokenizer.
	if err := m.SaveGGUF(path, nil, "f32"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "no tokenizer") {
		t.Errorf("GGUF without a tokenizer: %v", err)
	}
}
