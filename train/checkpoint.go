package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/safetensors"
)

// State is what a checkpoint adds to the model to continue a run:
// trainer_state.json beside the Hugging Face files.
type State struct {
	Format int `json:"format"`
	// Step is the number of optimizer steps done; Total the planned number.
	Step  int `json:"step"`
	Total int `json:"total_steps"`
	// Tokens counts the training tokens seen.
	Tokens int64 `json:"tokens"`
	// LoaderNext is the data loader's position (windows served).
	LoaderNext int64   `json:"loader_next"`
	Elapsed    float64 `json:"elapsed_seconds"`
	Loss       float64 `json:"loss"`
	ValLoss    float64 `json:"val_loss,omitempty"`
	ConfigHash string  `json:"config_hash"`
	Config     Config  `json:"config"`
	// AdamStep is the optimizer's own step count (bias correction).
	AdamStep int `json:"adam_step"`
}

const stateFormat = 1

// checkpointName is the folder of the checkpoint after step steps.
func checkpointName(step int) string { return fmt.Sprintf("step-%07d", step) }

// saveCheckpoint writes the model (F32), optimizer moments, state and
// tokenizer into ckptDir/step-N through a temporary folder renamed into
// place, then points ckptDir/latest at it; a crash at any moment leaves
// the previous checkpoint whole and latest naming it. Older checkpoints
// beyond keep are removed afterwards.
func saveCheckpoint(ckptDir string, m *model.Model, opt *AdamW, st *State, tokenizerJSON string, keep int) (string, error) {
	name := checkpointName(st.Step)
	final := filepath.Join(ckptDir, name)
	tmp := filepath.Join(ckptDir, ".tmp-"+name)
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	err := func() error {
		if err := m.Save(tmp, "F32"); err != nil {
			return err
		}
		var ts []safetensors.Tensor
		for i, p := range m.Params() {
			ts = append(ts, safetensors.F32(p.Name+".exp_avg", p.Shape, opt.M[i]), safetensors.F32(p.Name+".exp_avg_sq", p.Shape, opt.V[i]))
		}
		if err := safetensors.Write(filepath.Join(tmp, "optimizer.safetensors"), ts, map[string]string{"optimizer": "adamw"}); err != nil {
			return err
		}
		if tokenizerJSON != "" {
			data, err := os.ReadFile(tokenizerJSON)
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(tmp, "tokenizer.json"), data); err != nil {
				return err
			}
		}
		st.Format, st.AdamStep = stateFormat, opt.Step
		data, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, "trainer_state.json"), append(data, '\n')); err != nil {
			return err
		}
		if err := os.RemoveAll(final); err != nil {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
		return atomicfile.WriteFile(filepath.Join(ckptDir, "latest"), []byte(name+"\n"))
	}()
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("writing checkpoint %s: %w", final, err)
	}
	pruneCheckpoints(ckptDir, keep)
	return final, nil
}

// pruneCheckpoints removes all but the newest keep step-N folders.
func pruneCheckpoints(ckptDir string, keep int) {
	entries, err := os.ReadDir(ckptDir)
	if err != nil {
		return
	}
	var steps []int
	for _, e := range entries {
		if n, ok := strings.CutPrefix(e.Name(), "step-"); ok && e.IsDir() {
			if s, err := strconv.Atoi(n); err == nil {
				steps = append(steps, s)
			}
		}
	}
	slices.Sort(steps)
	for len(steps) > keep {
		os.RemoveAll(filepath.Join(ckptDir, checkpointName(steps[0])))
		steps = steps[1:]
	}
}

// latestCheckpoint returns the folder named by ckptDir/latest, or "" when
// the run has none yet.
func latestCheckpoint(ckptDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(ckptDir, "latest"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(data))
	if !strings.HasPrefix(name, "step-") || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("%s: %q is not a checkpoint name", filepath.Join(ckptDir, "latest"), name)
	}
	return filepath.Join(ckptDir, name), nil
}

// loadState reads a checkpoint's trainer_state.json and optimizer moments
// for m, checking that they belong to this model.
func loadState(dir string, m *model.Model, opt *AdamW) (*State, error) {
	path := filepath.Join(dir, "trainer_state.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("%s: field \"format\" is %d, this build reads %d", path, st.Format, stateFormat)
	}
	if st.Step < 0 || st.LoaderNext < 0 || st.AdamStep < 0 {
		return nil, fmt.Errorf("%s: negative step or loader position", path)
	}
	set, err := safetensors.Open(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return nil, err
	}
	defer set.Close()
	for i, p := range m.Params() {
		for _, mom := range []struct {
			suffix string
			dst    []float32
		}{{".exp_avg", opt.M[i]}, {".exp_avg_sq", opt.V[i]}} {
			name := p.Name + mom.suffix
			info, ok := set.Info(name)
			if !ok {
				return nil, fmt.Errorf("%s: tensor %q is missing", set.Path(), name)
			}
			if !slices.Equal(info.Shape, p.Shape) {
				return nil, fmt.Errorf("%s: tensor %q has shape %v, the model's is %v", set.Path(), name, info.Shape, p.Shape)
			}
			v, err := set.Float32(name)
			if err != nil {
				return nil, err
			}
			copy(mom.dst, v)
		}
	}
	opt.Step = st.AdamStep
	return &st, nil
}
