package eval

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/infer"
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

// LoadEngine opens a checkpoint folder or GGUF file (checkpoint.Open, as
// dokja serve does: a GGUF file's quantized matrices stay in their
// blocks, so in process and through the server the arithmetic is the
// same) into an engine and identifies it (path and SHA-256 of the
// weights, the tokenizer's).
func LoadEngine(path, tokSpec, kernels string, maxBatch, maxLength int) (*infer.Engine, Identity, error) {
	id := Identity{Backend: "in-process", ModelPath: path}
	ck, err := checkpoint.Open(path, checkpoint.Options{Kernels: kernels, TokenizerOptional: tokSpec != ""})
	if err != nil {
		return nil, id, err
	}
	if ck.GGUF {
		id.ModelSHA256, err = FileSHA256(path)
	} else {
		id.ModelSHA256, err = WeightsSHA256(path)
	}
	if err != nil {
		return nil, id, err
	}
	tok := ck.Tokenizer
	if tokSpec != "" {
		if tok, err = tokenizer.Load(tokSpec); err != nil {
			return nil, id, fmt.Errorf("tokenizer %s: %w", tokSpec, err)
		}
		id.Tokenizer, id.TokenizerSHA256 = TokenizerIdentity(tokSpec)
	} else if ck.GGUF {
		id.Tokenizer = path + " (embedded)"
	} else {
		id.Tokenizer, id.TokenizerSHA256 = TokenizerIdentity(path)
	}
	e, err := infer.NewEngine(ck.Model, tok, infer.EngineOptions{MaxBatch: maxBatch, MaxQueue: 1024, MaxContext: maxLength})
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
