package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataFilters(t *testing.T) {
	r := mustRun(t, "연락처는 010-1234-5678 입니다\n아무 정보 없음\n메일 kim@example.co.kr 로 주세요\n", "data", "redact")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 || strings.Contains(r.stdout, "010-1234-5678") || strings.Contains(r.stdout, "kim@example") ||
		lines[1] != "아무 정보 없음" || !strings.Contains(lines[0], "<") {
		t.Errorf("redact printed %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "phone 1") || !strings.Contains(r.stderr, "email 1") {
		t.Errorf("redact counts %q", r.stderr)
	}
	// The help shows the placeholders the output holds.
	help := mustRun(t, "", "data", "redact", "-h").stdout
	for _, ph := range []string{"<|pii:phone|>", "<|pii:email|>"} {
		if !strings.Contains(r.stdout, ph) || !strings.Contains(help, ph) {
			t.Errorf("placeholder %s: in the output %v, in the help %v", ph, strings.Contains(r.stdout, ph), strings.Contains(help, ph))
		}
	}
	if r := dokja(t, "", "data", "redact", "--kinds", "ssn"); r.code == 0 || !strings.Contains(r.stderr, "ssn") {
		t.Errorf("unknown kind: exit %d, %q", r.code, r.stderr)
	}

	r = mustRun(t, "오늘은 날씨가 좋아서 공원에 갔다\nThe weather was lovely today.\n", "data", "langid")
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ko\t") || !strings.HasPrefix(lines[1], "en\t") {
		t.Errorf("langid printed %q", r.stdout)
	}

	good := "서울의 봄은 벚꽃이 피는 사월에 가장 아름답다. " + strings.Repeat("도서관에서는 매주 토요일마다 어린이를 위한 책 읽기 모임이 열린다. 기차가 부산역에 도착하자 승객들은 짐을 챙겨 내렸다. ", 1) +
		"제주도의 바다는 겨울에도 맑고 푸른 빛을 잃지 않는다. 새로 문을 연 식당의 김치찌개는 맛이 깊고 양도 넉넉했다. 학생들은 시험이 끝나자 운동장으로 달려 나가 축구를 했다. " +
		"오래된 라디오에서 흘러나오는 노래가 할머니의 추억을 불러왔다. 연구진은 새로운 배터리 소재가 충전 속도를 두 배로 높인다고 밝혔다. 산 정상에 오르니 먼 마을의 지붕들이 내려다보였다."
	r = mustRun(t, good+"\nㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ\n", "data", "quality", "--lang", "ko")
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "keep\t\t") || !strings.HasPrefix(lines[1], "drop\t") {
		t.Errorf("quality printed %q", r.stdout)
	}

	r = mustRun(t, "", "data", "stages")
	for _, s := range []string{"normalize", "langid", "quality", "exact_dedup", "line_dedup", "minhash_dedup", "pii", "decontaminate", "tokenize", "korean.min_particles"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("data stages lacks %q", s)
		}
	}
}

func TestDataRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "reviews.jsonl")
	text := `{"id": 1, "text": "이 영화는 배우들의 연기가 훌륭했지만 이야기의 흐름이 다소 느렸다."}
{"id": 2, "text": "이 영화는 배우들의 연기가 훌륭했지만 이야기의 흐름이 다소 느렸다."}
{"id": 3, "text": "Great movie, I loved every minute of it and would watch it again."}
{"id": 4, "text": "제주도의 바다는 겨울에도 맑고 푸른 빛을 잃지 않는다. 문의 010-2222-3333"}
{"id": 5, "text": 
`
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, _ := filepath.Abs("../../tokenizer/testdata/tiny.json")
	cfg := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(cfg, []byte(`input: {paths: [reviews.jsonl], id_field: id}
stages:
  - normalize: {}
  - langid: {keep: [ko]}
  - exact_dedup: {}
  - pii: {}
  - tokenize: {tokenizer: `+tok+`, val_fraction: 0}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	r := mustRun(t, "", "data", "run", "--config", cfg, "--out", out)
	for _, s := range []string{"read 4 documents", "1 bad records", "kept 2", "langid", "language 1", "duplicate 1", "phone 1", "report.html"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("data run output lacks %q:\n%s", s, r.stdout)
		}
	}
	var rep struct {
		Output struct{ Docs int }
		Tokens struct{ Train struct{ Documents int } }
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Output.Docs != 2 || rep.Tokens.Train.Documents != 2 {
		t.Errorf("report: %+v", rep)
	}
	// The shards train on: dokja train reads them.
	if _, err := os.Stat(filepath.Join(out, "tokens", "manifest.json")); err != nil {
		t.Error(err)
	}

	// --strict stops at the bad record and names it.
	r = dokja(t, "", "data", "run", "--config", cfg, "--out", filepath.Join(dir, "strict"), "--strict")
	if r.code == 0 || !strings.Contains(r.stderr, "reviews.jsonl line 5") {
		t.Errorf("--strict: exit %d, %q", r.code, r.stderr)
	}
	// A bad option names the stage and the field.
	os.WriteFile(cfg, []byte("input: {paths: [reviews.jsonl]}\nstages:\n  - langid: {min_score: 2}\n"), 0o644)
	r = dokja(t, "", "data", "run", "--config", cfg, "--out", filepath.Join(dir, "bad"))
	if r.code == 0 || !strings.Contains(r.stderr, "stages[0] langid: min_score: 2") {
		t.Errorf("bad option: exit %d, %q", r.code, r.stderr)
	}
}

// A binary built without Beam says how to get one that has it.
func TestDataRunnerWithoutBeam(t *testing.T) {
	if beamBuilt {
		t.Skip("built with -tags beam")
	}
	cfg := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(cfg, []byte("input: {paths: [x.txt]}\nstages: [normalize]\n"), 0o644)
	r := dokja(t, "", "data", "run", "--config", cfg, "--out", filepath.Join(t.TempDir(), "run"), "--runner", "prism")
	if r.code != 1 || !strings.Contains(r.stderr, "-tags beam") || !strings.Contains(r.stderr, "make build-beam") {
		t.Errorf("--runner prism without Beam: exit %d, %q", r.code, r.stderr)
	}
}
