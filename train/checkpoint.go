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
	"github.com/dokja/dokja/safetensors"
	"github.com/dokja/dokja/tokenizer"
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

// checkpointName is the folder of the checkpoint after step steps; a
// step saved again goes to checkpointName(step)+".1", ".2" and so on.
func checkpointName(step int) string { return fmt.Sprintf("step-%07d", step) }

// parseCheckpointName reads a checkpoint folder name back: its step and
// version (0 for the first save of a step).
func parseCheckpointName(name string) (step, version int, ok bool) {
	rest, found := strings.CutPrefix(name, "step-")
	if !found {
		return 0, 0, false
	}
	num, ver, dotted := strings.Cut(rest, ".")
	step, err := strconv.Atoi(num)
	if err != nil || step < 0 || strings.HasPrefix(num, "+") {
		return 0, 0, false
	}
	if dotted {
		if version, err = strconv.Atoi(ver); err != nil || version < 1 || strings.HasPrefix(ver, "+") {
			return 0, 0, false
		}
	}
	return step, version, true
}

// saveCheckpoint writes the model (F32), optimizer moments, state and
// tokenizer into a new folder ckptDir/step-N (step-N.1, .2, ... when the
// step was saved before: a resumed finished run, or Ctrl-C just after a
// periodic checkpoint) through a temporary folder renamed into place,
// then points ckptDir/latest at it, and only then removes older
// checkpoints. A crash at any moment leaves latest naming a whole
// checkpoint: no folder latest names is ever removed or replaced.
func saveCheckpoint(ckptDir string, m net, opt *AdamW, st *State, tok *tokenizer.Tokenizer, keep int) (string, error) {
	name := checkpointName(st.Step)
	for v := 1; exists(filepath.Join(ckptDir, name)); v++ {
		name = fmt.Sprintf("%s.%d", checkpointName(st.Step), v)
	}
	final := filepath.Join(ckptDir, name)
	tmp := filepath.Join(ckptDir, ".tmp-"+name)
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	err := func() error {
		if err := m.save(tmp); err != nil {
			return err
		}
		var ts []safetensors.Tensor
		for i, p := range m.Params() {
			ts = append(ts, safetensors.F32(p.Name+".exp_avg", p.Shape, opt.M[i]), safetensors.F32(p.Name+".exp_avg_sq", p.Shape, opt.V[i]))
		}
		if err := safetensors.Write(filepath.Join(tmp, "optimizer.safetensors"), ts, map[string]string{"optimizer": "adamw"}); err != nil {
			return err
		}
		if tok != nil {
			if err := tok.SaveJSON(filepath.Join(tmp, "tokenizer.json")); err != nil {
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

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// pruneCheckpoints keeps the checkpoints of the newest keep steps (of a
// step saved more than once, only its newest save) and removes the rest,
// never the one latest names.
func pruneCheckpoints(ckptDir string, keep int) {
	entries, err := os.ReadDir(ckptDir)
	if err != nil {
		return
	}
	latest, _ := latestCheckpoint(ckptDir)
	type ckpt struct {
		name          string
		step, version int
	}
	var all []ckpt
	for _, e := range entries {
		if step, version, ok := parseCheckpointName(e.Name()); ok && e.IsDir() {
			all = append(all, ckpt{e.Name(), step, version})
		}
	}
	// Newest first: by step, then by version.
	slices.SortFunc(all, func(a, b ckpt) int {
		if a.step != b.step {
			return b.step - a.step
		}
		return b.version - a.version
	})
	steps := 0
	for i, c := range all {
		newStep := i == 0 || all[i-1].step != c.step
		if newStep {
			steps++
		}
		if (newStep && steps <= keep) || filepath.Join(ckptDir, c.name) == latest {
			continue
		}
		os.RemoveAll(filepath.Join(ckptDir, c.name))
	}
}

// removeStale removes what killed runs leave in ckptDir: half-written
// checkpoint folders (.tmp-step-N) and temporary files of latest. A run
// owns its checkpoint folder, so nothing else writes them.
func removeStale(ckptDir string) error {
	entries, err := os.ReadDir(ckptDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-step-") {
			if err := os.RemoveAll(filepath.Join(ckptDir, e.Name())); err != nil {
				return err
			}
		}
	}
	_, err = atomicfile.RemoveStale(ckptDir)
	return err
}

// latestCheckpoint returns the folder named by ckptDir/latest, or "" when
// the run has none yet.
func latestCheckpoint(ckptDir string) (string, error) {
	path := filepath.Join(ckptDir, "latest")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(data))
	if _, _, ok := parseCheckpointName(name); !ok {
		return "", fmt.Errorf("%s: %q is not a checkpoint name", path, name)
	}
	dir := filepath.Join(ckptDir, name)
	if !exists(filepath.Join(dir, "trainer_state.json")) {
		hint := "no other whole checkpoint is there"
		if other := newestWhole(ckptDir); other != "" {
			hint = fmt.Sprintf("the newest whole one is %s: write %q into %s to resume from it", other, other, path)
		}
		return "", fmt.Errorf("%s names %s, which is missing or incomplete (%s)", path, dir, hint)
	}
	return dir, nil
}

// newestWhole names the newest checkpoint folder in ckptDir that has its
// trainer_state.json (written last), or "".
func newestWhole(ckptDir string) string {
	entries, _ := os.ReadDir(ckptDir)
	best, bestStep, bestVer := "", -1, -1
	for _, e := range entries {
		step, ver, ok := parseCheckpointName(e.Name())
		if !ok || !exists(filepath.Join(ckptDir, e.Name(), "trainer_state.json")) {
			continue
		}
		if step > bestStep || (step == bestStep && ver > bestVer) {
			best, bestStep, bestVer = e.Name(), step, ver
		}
	}
	return best
}

// loadState reads a checkpoint's trainer_state.json and optimizer moments
// for m, checking that they belong to this model.
func loadState(dir string, m Weights, opt *AdamW) (*State, error) {
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
