package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dokja/dokja/pii"
)

// Distinct Korean sentences to build documents that are not near
// duplicates of each other.
var koSentences = []string{
	"서울의 봄은 벚꽃이 피는 사월에 가장 아름답다고 많은 사람들이 말한다.",
	"이 영화는 배우들의 연기가 훌륭했지만 이야기의 흐름이 다소 느렸다.",
	"도서관에서는 매주 토요일마다 어린이를 위한 책 읽기 모임이 열린다.",
	"기차가 부산역에 도착하자 승객들은 서둘러 짐을 챙겨 내렸다.",
	"한국어 형태소 분석기는 조사와 어미를 어간에서 떼어 낸다.",
	"제주도의 바다는 겨울에도 맑고 푸른 빛을 잃지 않는다.",
	"새로 문을 연 식당의 김치찌개는 맛이 깊고 양도 넉넉했다.",
	"학생들은 시험이 끝나자 운동장으로 달려 나가 축구를 했다.",
	"오래된 라디오에서 흘러나오는 노래가 할머니의 추억을 불러왔다.",
	"연구진은 새로운 배터리 소재가 충전 속도를 두 배로 높인다고 밝혔다.",
	"산 정상에 오르니 구름 사이로 먼 마을의 지붕들이 내려다보였다.",
	"그 소설의 마지막 장은 독자들에게 긴 여운을 남겼다.",
}

// randomKorean returns n words of random syllables: unlike any other
// document.
func randomKorean(seed, n int) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	var words []string
	for range n {
		var w []rune
		for range 2 + rng.IntN(3) {
			w = append(w, rune(0xac00+rng.IntN(11172)))
		}
		words = append(words, string(w))
	}
	return strings.Join(words, " ") + "."
}

func koDoc(start, n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, koSentences[(start+i)%len(koSentences)])
	}
	return strings.Join(parts, " ")
}

type rec struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

func writeJSONL(t *testing.T, path string, lines ...any) {
	t.Helper()
	var b bytes.Buffer
	for _, l := range lines {
		switch v := l.(type) {
		case string:
			b.WriteString(v)
		default:
			data, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// plantedInput writes a corpus with known duplicates, near duplicates,
// an English document, PII, bad lines and a truncated gzip file.
func plantedInput(t *testing.T, dir string) {
	a := koDoc(0, 4)
	b := koDoc(4, 5)
	bNear := strings.Replace(strings.Replace(b, "서둘러", "천천히", 1), "푸른", "파란", 1)
	writeJSONL(t, filepath.Join(dir, "a.jsonl"),
		rec{"k1", a},
		rec{"k2", strings.ReplaceAll(a, ".", "!") + "  "}, // same text but for punctuation and spacing
		`{"id": "bad1", "text": 5}`,
		rec{"k4", b},
		`not json at all`,
		rec{"e1", "The quick brown fox jumps over the lazy dog while the children watch from the window of the old house."},
		rec{"z", "\u200b \u200b"},
		rec{"k3", bNear},
		rec{"p1", koDoc(9, 3) + " 문의는 010-1234-5678 또는 hong.gildong@example.com 으로 연락 주세요."},
	)
	// A gzip file cut short: the records before the cut survive.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := range 40 {
		data, _ := json.Marshal(rec{fmt.Sprintf("g%d", i), randomKorean(i, 60)})
		zw.Write(append(data, '\n'))
	}
	zw.Close()
	cut := gz.Bytes()[:gz.Len()*2/3]
	if err := os.WriteFile(filepath.Join(dir, "b.jsonl.gz"), cut, 0o644); err != nil {
		t.Fatal(err)
	}
}

const plantedConfig = `
input:
  paths: [in]
  id_field: id
shard_docs: 4
stages:
  - normalize: {}
  - langid: {keep: [ko]}
  - exact_dedup: {}
  - minhash_dedup: {}
  - pii: {}
  - tokenize: {tokenizer: ../../tokenizer/testdata/tiny.json, val_fraction: 0}
`

func setupRun(t *testing.T, config string) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	plantedInput(t, filepath.Join(dir, "in"))
	cfg, err := ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SetDir(dir)
	// The tokenizer path is relative to the package, not the temp folder.
	for i := range cfg.Stages {
		if cfg.Stages[i].Kind == "tokenize" {
			abs, _ := filepath.Abs("../tokenizer/testdata/tiny.json")
			cfg.Stages[i].Options.Content[1].Value = abs
		}
	}
	return cfg, dir
}

func outputDocs(t *testing.T, run string) []Document {
	t.Helper()
	files, err := OutputFiles(run)
	if err != nil {
		t.Fatal(err)
	}
	var docs []Document
	for _, f := range files {
		if err := readDocs(f, func(d *Document) error { docs = append(docs, *d); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return docs
}

func ids(docs []Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

func stageByName(rep *Report, name string) *StageStats {
	for _, s := range rep.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func TestRunPlanted(t *testing.T) {
	cfg, dir := setupRun(t, plantedConfig)
	run := filepath.Join(dir, "run")
	rep, err := Run(context.Background(), cfg, RunOptions{Out: run, Env: &Env{}})
	if err != nil {
		t.Fatal(err)
	}
	docs := outputDocs(t, run)
	got := ids(docs)
	// k2 duplicates k1, k3 is a near duplicate of k4, e1 is English and z
	// is empty once normalised; the gzip file's surviving records all stay.
	var want []string
	want = append(want, "k1", "k4", "p1")
	var gs []string
	for _, id := range got {
		if strings.HasPrefix(id, "g") {
			gs = append(gs, id)
		}
	}
	if len(gs) == 0 || len(gs) == 40 {
		t.Fatalf("the truncated gzip file gave %d documents, want some but not all 40", len(gs))
	}
	want = append(want, gs...)
	if !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	for i, g := range gs {
		if g != fmt.Sprintf("g%d", i) {
			t.Fatalf("gzip documents out of order: %v", gs)
		}
	}
	p1 := docs[2].Text
	if strings.Contains(p1, "010-1234-5678") || strings.Contains(p1, "hong.gildong") || !strings.Contains(p1, pii.DefaultPlaceholder(pii.Phone)) || !strings.Contains(p1, pii.DefaultPlaceholder(pii.Email)) {
		t.Errorf("PII not redacted: %q", p1)
	}
	if docs[0].Lang != "ko" || docs[0].LangScore <= 0.5 {
		t.Errorf("k1 labelled %q %.2f", docs[0].Lang, docs[0].LangScore)
	}

	// The report adds up.
	if rep.Input.Bad != 3 {
		t.Errorf("bad records %d, want 3 (two lines and the truncated file): %v", rep.Input.Bad, rep.Input.BadList)
	}
	for _, want := range []string{"a.jsonl line 3", "a.jsonl line 5", "b.jsonl.gz"} {
		if !slices.ContainsFunc(rep.Input.BadList, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("bad records %q do not name %q", rep.Input.BadList, want)
		}
	}
	if rep.Stages[0].In != rep.Input.Docs {
		t.Errorf("normalize saw %d documents, %d were read", rep.Stages[0].In, rep.Input.Docs)
	}
	for i := 1; i < len(rep.Stages); i++ {
		if rep.Stages[i].In != rep.Stages[i-1].Out {
			t.Errorf("%s: in %d != %s out %d", rep.Stages[i].Name, rep.Stages[i].In, rep.Stages[i-1].Name, rep.Stages[i-1].Out)
		}
	}
	checks := []struct {
		stage, reason string
		dropped       int64
	}{
		{"normalize", "empty", 1}, {"langid", "language", 1}, {"exact_dedup", "duplicate", 1}, {"minhash_dedup", "near_duplicate", 1},
	}
	for _, c := range checks {
		st := stageByName(rep, c.stage)
		if st.Dropped[c.reason] != c.dropped || st.In-st.Out != c.dropped {
			t.Errorf("%s dropped %v (in %d out %d), want %s %d", c.stage, st.Dropped, st.In, st.Out, c.reason, c.dropped)
		}
		if len(st.Samples[c.reason]) == 0 {
			t.Errorf("%s: no sample for %s", c.stage, c.reason)
		}
	}
	if f := stageByName(rep, "pii").Found; f["phone"] != 1 || f["email"] != 1 {
		t.Errorf("pii found %v", f)
	}
	if f := stageByName(rep, "langid").Found; f["en"] != 1 || f["ko"] < 4 {
		t.Errorf("languages %v", f)
	}
	ex := stageByName(rep, "exact_dedup")
	if ex.Groups != 1 || len(ex.Clusters) != 1 || ex.Clusters[0][0].ID != "k1" || ex.Clusters[0][1].ID != "k2" {
		t.Errorf("exact clusters %d %+v", ex.Groups, ex.Clusters)
	}
	if rep.Output.Docs != int64(len(docs)) {
		t.Errorf("report says %d output documents, files hold %d", rep.Output.Docs, len(docs))
	}
	if rep.Tokens == nil || rep.Tokens.Train.Documents != int64(len(docs)) {
		t.Errorf("tokens %+v, want %d documents", rep.Tokens, len(docs))
	}
	if _, err := os.Stat(filepath.Join(run, "tokens", "manifest.json")); err != nil {
		t.Error(err)
	}
	html, err := os.ReadFile(filepath.Join(run, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"normalize", "minhash_dedup", "near_duplicate", "a.jsonl line 3", "phone"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("report.html lacks %q", s)
		}
	}

	// Running again finds everything done and reports the same.
	again, err := Run(context.Background(), cfg, RunOptions{Out: run, Env: &Env{}})
	if err != nil {
		t.Fatal(err)
	}
	if again.Output.Docs != rep.Output.Docs || again.Output.Bytes != rep.Output.Bytes || again.Input.Docs != rep.Input.Docs {
		t.Errorf("rerun reports %+v, first run %+v", again.Output, rep.Output)
	}
	// A different config is refused without --force.
	cfg2, _ := ParseConfig([]byte(strings.Replace(plantedConfig, "keep: [ko]", "keep: [ko, en]", 1)))
	cfg2.SetDir(dir)
	cfg2.Stages = cfg2.Stages[:len(cfg2.Stages)-1]
	if _, err := Run(context.Background(), cfg2, RunOptions{Out: run}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a different config in the same folder: %v", err)
	}
}

// TestRunWorkersSameOutput: the output does not depend on the number of
// workers.
func TestRunWorkersSameOutput(t *testing.T) {
	var outs [][]byte
	for _, w := range []int{1, 3} {
		cfg, dir := setupRun(t, plantedConfig)
		cfg.Workers = w
		cfg.ShardDocs = 3
		run := filepath.Join(dir, "run")
		if _, err := Run(context.Background(), cfg, RunOptions{Out: run}); err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, d := range outputDocs(t, run) {
			data, _ := json.Marshal(d)
			// Source paths differ between temp folders.
			all = append(all, bytes.ReplaceAll(data, []byte(dir), nil)...)
		}
		outs = append(outs, all)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("1 worker and 3 workers differ:\n%s\n%s", outs[0], outs[1])
	}
}

// cancelStage cancels the run after n documents, as a killed run stops.
type cancelStage struct {
	n      int64
	seen   atomic.Int64
	cancel context.CancelFunc
}

func (s *cancelStage) Name() string { return "cancel" }
func (s *cancelStage) Process(d *Document) Verdict {
	if s.seen.Add(1) == s.n && s.cancel != nil {
		s.cancel()
	}
	return Verdict{}
}

func TestRunResume(t *testing.T) {
	cfg, dir := setupRun(t, plantedConfig)
	cfg.Workers = 1
	run := filepath.Join(dir, "run")
	// A clean run to compare with.
	ref := filepath.Join(dir, "ref")
	if _, err := Run(context.Background(), cfg, RunOptions{Out: ref}); err != nil {
		t.Fatal(err)
	}
	want := outputDocs(t, ref)

	ctx, cancel := context.WithCancel(context.Background())
	stop := &cancelStage{n: 6, cancel: cancel}
	p, err := cfg.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.phases[0].stages = append([]Stage{stop}, p.phases[0].stages...)
	_, err = runPipeline(ctx, p, RunOptions{Out: run})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	markers, _ := filepath.Glob(filepath.Join(run, workDir, "phase-1", "shard-*.done.json"))
	if len(markers) != 1 {
		t.Fatalf("%d shards finished before the interruption, want 1 (4 documents per shard, stopped at the 6th)", len(markers))
	}
	// A kill -9 mid-write leaves temporary files; the resume removes them.
	stale := []string{filepath.Join(run, workDir, "phase-1", ".shard-00001.jsonl.zst.tmp0123456789ab"),
		filepath.Join(run, outputDir, ".part-00001.jsonl.zst.tmpba9876543210")}
	for _, f := range stale {
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Resume: the finished shard is not processed again.
	stop.seen.Store(0)
	stop.cancel = nil
	if _, err := runPipeline(context.Background(), p, RunOptions{Out: run}); err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left by a killed run survived the resume: %v", f, err)
		}
	}
	ingest, err := readJSON[IngestStats](filepath.Join(run, workDir, ingestName))
	if err != nil {
		t.Fatal(err)
	}
	if redone := stop.seen.Load(); redone != ingest.Docs-4 {
		t.Errorf("resumed run processed %d documents in phase 1, want %d (all but the finished shard's 4)", redone, ingest.Docs-4)
	}
	got := outputDocs(t, run)
	for i := range got {
		got[i].Source, want[i].Source = "", ""
	}
	if !slices.Equal(got, want) {
		t.Errorf("resumed output differs from a clean run:\n%v\n%v", ids(got), ids(want))
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"stages: []", "no stages"},
		{"stages:\n  - nosuch: {}", `unknown stage "nosuch"`},
		{"stages:\n  - langid: {keep: [xx]}", "stages[0] langid: keep: xx"},
		{"stages:\n  - langid: {colour: red}", "stages[0] langid: field colour not found"},
		{"stages:\n  - normalize: {form: nfd}", "stages[0] normalize: form: nfd"},
		{"stages:\n  - minhash_dedup: {bands: 3, rows: 5}", "stages[0] minhash_dedup"},
		{"stages:\n  - normalize: {}\n  - normalize: {}", "stages[1] normalize: the stage appears twice"},
		{"stages:\n  - tokenize: {tokenizer: ../tokenizer/testdata/tiny.json}\n  - normalize: {}", "tokenize must be the last stage"},
		{"stages:\n  - tokenize: {}", "tokenizer"},
		{"stages:\n  - decontaminate: {tasks: [], files: []}", "at least one task or file"},
		{"stages:\n  - pii: {kinds: [ssn]}", "kinds: ssn"},
	}
	for _, tt := range tests {
		cfg, err := ParseConfig([]byte(tt.yaml))
		if err == nil {
			_, err = cfg.Build(nil)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.yaml, err, tt.want)
		}
	}
	for _, tt := range []struct{ yaml, want string }{
		{"shard_docs: -1\nstages: [normalize]", "shard_docs"},
		{"input: {format: docx}\nstages: [normalize]", "input.format"},
		{"colour: red", "field colour not found"},
		{"", "empty"},
	} {
		if _, err := ParseConfig([]byte(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestDecontaminate(t *testing.T) {
	protected := filepath.Join(t.TempDir(), "eval.txt")
	item := "남자는 다리를 다쳤다. 그래서 그는 병원에 가서 치료를 받았다."
	if err := os.WriteFile(protected, []byte(item+"\n짧은 문장\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := defaultDecontam()
	o.Tasks, o.Files, o.N = nil, []string{protected}, 15
	s, err := o.build(&Env{})
	if err != nil {
		t.Fatal(err)
	}
	st := s.(*decontam)
	if st.items != 1 || st.short != 1 {
		t.Errorf("items %d short %d, want 1 and 1", st.items, st.short)
	}
	for _, tt := range []struct {
		text string
		drop bool
	}{
		{"어제 있었던 일이다. " + item + " 그 뒤로 조심한다.", true},
		{"어제 있었던 일이다. 남자는 다리를,  다쳤다! 그래서 그는 병원에 가서 치료를 받았다", true}, // punctuation and spacing do not hide it
		{"남자는 다리를 다쳤다. 그래서 그는 집에서 쉬었다.", false},
		{"짧은 문장", false},
	} {
		d := &Document{Text: tt.text}
		if v := st.Process(d); v.Drop != tt.drop {
			t.Errorf("%q: drop %v, want %v (%s)", tt.text, v.Drop, tt.drop, v.Detail)
		}
	}
}
