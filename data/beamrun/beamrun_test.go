package beamrun

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/data"
)

// TestSameAsLocal runs one pipeline with the local runner and on Beam's
// Prism runner and compares the documents kept, their texts and labels.
func TestSameAsLocal(t *testing.T) {
	if os.Getenv("DOKJA_NETNS") == "" {
		inPrivateNetwork(t, "TestSameAsLocal")
		return
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	writeCorpus(t, in)
	const config = `
input:
  paths: [in]
  id_field: id
shard_docs: 5
stages:
  - normalize: {}
  - langid: {keep: [ko]}
  - exact_dedup: {}
  - line_dedup: {min_chars: 10}
  - minhash_dedup: {}
  - pii: {}
`
	cfg, err := data.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SetDir(dir)
	local := filepath.Join(dir, "local")
	rep, err := data.Run(context.Background(), cfg, data.RunOptions{Out: local})
	if err != nil {
		t.Fatal(err)
	}
	want := readLocal(t, local)
	if len(want) < 5 {
		t.Fatalf("the local run kept only %d documents; the test corpus is too small", len(want))
	}
	// Every kind of decision is exercised.
	for _, c := range []struct{ stage, what string }{
		{"langid", "dropped"}, {"exact_dedup", "dropped"}, {"minhash_dedup", "dropped"}, {"line_dedup", "modified"}, {"pii", "modified"},
	} {
		for _, st := range rep.Stages {
			if st.Name == c.stage && ((c.what == "dropped" && st.In == st.Out) || (c.what == "modified" && st.Modified == 0)) {
				t.Errorf("%s: nothing %s in the test corpus (in %d out %d modified %d)", c.stage, c.what, st.In, st.Out, st.Modified)
			}
		}
	}

	out := filepath.Join(dir, "beam", "output.jsonl")
	res, err := Run(context.Background(), cfg, dir, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Beam kept %d documents, local %d:\nbeam  %v\nlocal %v", len(got), len(want), idsOf(got), idsOf(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Text != w.Text || g.Lang != w.Lang || g.LangScore != w.LangScore {
			t.Errorf("document %d: beam %+v\nlocal %+v", i, g, w)
		}
	}
	// The counters agree with the local report.
	for _, st := range rep.Stages {
		if res.Counters[st.Name+".in"] != st.In || res.Counters[st.Name+".out"] != st.Out {
			t.Errorf("%s: beam in %d out %d, local in %d out %d", st.Name, res.Counters[st.Name+".in"], res.Counters[st.Name+".out"], st.In, st.Out)
		}
	}
	if res.Counters["input.bad"] != rep.Input.Bad || res.Counters["input.docs"] != rep.Input.Docs {
		t.Errorf("input: beam %v, local %d docs %d bad", res.Counters, rep.Input.Docs, rep.Input.Bad)
	}
}

// inPrivateNetwork reruns the test in a network namespace of its own
// (unshare -rn) with only a loopback interface: Prism's job server listens
// on every interface (upstream binds ":port"), and tests here may listen
// on loopback only.
func inPrivateNetwork(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		skipOrFail(t, "unshare (util-linux) is not installed")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "ip (iproute2) is not installed")
	}
	args := []string{"-rn", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, os.Args[0], "-test.run=^" + name + "$", "-test.v"}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), "DOKJA_NETNS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "unshare failed") || strings.Contains(string(out), "Operation not permitted") {
			skipOrFail(t, "no private network namespace: "+strings.TrimSpace(string(out)))
		}
		t.Fatalf("%s in a private network namespace: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s did not pass in the private network namespace:\n%s", name, out)
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func idsOf(docs []data.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

func readLocal(t *testing.T, run string) []data.Document {
	files, err := data.OutputFiles(run)
	if err != nil {
		t.Fatal(err)
	}
	var docs []data.Document
	for _, f := range files {
		d, err := data.ReadDocs(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	return docs
}

var sentences = []string{
	"서울의 봄은 벚꽃이 피는 사월에 가장 아름답다고 많은 사람들이 말한다.",
	"이 영화는 배우들의 연기가 훌륭했지만 이야기의 흐름이 다소 느렸다.",
	"도서관에서는 매주 토요일마다 어린이를 위한 책 읽기 모임이 열린다.",
	"기차가 부산역에 도착하자 승객들은 서둘러 짐을 챙겨 내렸다.",
	"한국어 형태소 분석기는 조사와 어미를 어간에서 떼어 낸다.",
	"제주도의 바다는 겨울에도 맑고 푸른 빛을 잃지 않는다.",
	"새로 문을 연 식당의 김치찌개는 맛이 깊고 양도 넉넉했다.",
	"학생들은 시험이 끝나자 운동장으로 달려 나가 축구를 했다.",
}

func doc(start, n int, sep string) string {
	var parts []string
	for i := range n {
		parts = append(parts, sentences[(start+i)%len(sentences)])
	}
	return strings.Join(parts, sep)
}

// writeCorpus writes two files with duplicates across them, shared
// lines, near duplicates, English, PII and a bad line.
func writeCorpus(t *testing.T, dir string) {
	lines := func(docs ...[2]string) string {
		var b strings.Builder
		for _, d := range docs {
			if d[0] == "" {
				b.WriteString(d[1] + "\n")
				continue
			}
			b.WriteString(`{"id":"` + d[0] + `","text":` + quote(d[1]) + "}\n")
		}
		return b.String()
	}
	a := lines(
		[2]string{"a1", doc(0, 4, " ")},
		[2]string{"a2", doc(1, 3, "\n")},
		[2]string{"a3", "The weather was lovely and everybody went to the beach for the whole afternoon."},
		[2]string{"", "{broken"},
		[2]string{"a4", doc(3, 4, " ") + " 연락처 010-9876-5432."},
		[2]string{"a5", doc(5, 3, "\n")},
	)
	b := lines(
		[2]string{"b1", doc(0, 4, " ")}, // duplicate of a1
		[2]string{"b2", doc(2, 2, "\n") + "\n전혀 새로운 문장이 여기에 하나 더 있다."},   // shares lines with a2
		[2]string{"b3", strings.Replace(doc(3, 4, " "), "형태소", "형태", 1)}, // near a4 (before PII)
		[2]string{"b4", doc(6, 3, " ")},
		[2]string{"b5", "오늘은 날씨가 좋아서 공원에 산책을 다녀왔고 저녁에는 친구와 영화를 보았다."},
	)
	for name, text := range map[string]string{"a.jsonl": a, "b.jsonl": b} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
