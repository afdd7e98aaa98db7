package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// LoadTaskData reads each task's items (and the train split as the
// few-shot pool when asked for).
func LoadTaskData(tasks []*Task, dataDir, split, text, field string, fewshot bool) ([]TaskData, error) {
	var data []TaskData
	for _, t := range tasks {
		td := TaskData{Task: t}
		var err error
		switch {
		case t.OutputType == LoglikelihoodRolling && t.RowsFunc == nil:
			if text == "" {
				return nil, fmt.Errorf("task %s needs --text FILE", t.Name)
			}
			td.Docs, err = LoadText(text, field)
			td.Source = text
		default:
			// A task file names its own data; built-in tasks read dataDir.
			if t.RowsFunc == nil && dataDir == "" {
				return nil, fmt.Errorf("task %s needs --data-dir (the KoBEST folder holding %s/)", t.Name, t.Dir)
			}
			td.Docs, err = t.Load(dataDir, split)
			if err == nil {
				td.Source, err = t.SplitFile(dataDir, split)
			}
			if err == nil && fewshot {
				if td.Fewshot, err = t.Load(dataDir, "train"); err != nil {
					err = fmt.Errorf("few-shot examples: %w", err)
				}
			}
		}
		if err != nil {
			return nil, err
		}
		data = append(data, td)
	}
	return data, nil
}

// LoadEngine loads a checkpoint folder or GGUF file into an engine and
// identifies it (path and SHA-256 of the weights, the tokenizer's).
func LoadEngine(path, tokSpec, kernels string, maxBatch, maxLength int) (*infer.Engine, Identity, error) {
	id := Identity{Backend: "in-process", ModelPath: path}
	var m *model.Model
	var tok *tokenizer.Tokenizer
	var err error
	if strings.HasSuffix(path, ".gguf") {
		if m, tok, err = model.LoadGGUF(path); err != nil {
			return nil, id, err
		}
		id.ModelSHA256, err = FileSHA256(path)
	} else {
		if m, err = model.Load(path); err != nil {
			return nil, id, err
		}
		id.ModelSHA256, err = WeightsSHA256(path)
	}
	if err != nil {
		return nil, id, err
	}
	if tokSpec == "" && tok == nil {
		tokSpec = path
	}
	if tokSpec != "" {
		if tok, err = tokenizer.Load(tokSpec); err != nil {
			return nil, id, fmt.Errorf("tokenizer %s: %w", tokSpec, err)
		}
		id.Tokenizer, id.TokenizerSHA256 = TokenizerIdentity(tokSpec)
	} else {
		id.Tokenizer = path + " (embedded)"
	}
	if tok == nil {
		return nil, id, fmt.Errorf("%s carries no tokenizer; pass --tokenizer", path)
	}
	if kernels != "" {
		if m.K, err = tensor.ByName(kernels); err != nil {
			return nil, id, err
		}
	}
	e, err := infer.NewEngine(m, tok, infer.EngineOptions{MaxBatch: maxBatch, MaxQueue: 1024, MaxContext: maxLength})
	if err != nil {
		return nil, id, fmt.Errorf("%s: %w", path, err)
	}
	return e, id, nil
}

// TokenizerIdentity names a tokenizer spec and hashes its file, if it is
// one (a folder's tokenizer.json).
func TokenizerIdentity(spec string) (string, string) {
	path := spec
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		path = filepath.Join(spec, "tokenizer.json")
	}
	sum, err := FileSHA256(path)
	if err != nil {
		return spec, "" // a built-in name
	}
	return path, sum
}
