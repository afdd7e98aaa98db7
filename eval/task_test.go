package eval

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sharedKoBEST = "../../shared/data/kobest"

// kobestDir returns the shared KoBEST folder; it skips when it is
// missing, except under CI=true, where that is a failure.
func kobestDir(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedKoBEST, "COPA", "dev.tsv")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("KoBEST data missing in CI: %v", err)
		}
		t.Skipf("KoBEST data not available: %v", err)
	}
	return sharedKoBEST
}

func task(t testing.TB, name string) *Task {
	t.Helper()
	ts, err := Lookup(name)
	if err != nil || len(ts) != 1 {
		t.Fatalf("Lookup(%q): %v", name, err)
	}
	return ts[0]
}

// The synthetic files in testdata/kobest have KoBEST's layout, with the
// awkward cases of the real ones: CRLF line ends, a CSV-quoted field with
// "" and a tab inside (as in HellaSwag/train.tsv), and a field that merely
// begins with a quotation (as in BoolQ/train.tsv).
func TestSyntheticKoBEST(t *testing.T) {
	type want struct {
		n       int
		text    string
		choices []string
		target  int
	}
	cases := map[string]want{
		// "{{paragraph}} 질문: {{question}} 답변: "
		"kobest_boolq": {3, `"가나다 도서관"은 서울에 있는 작은 도서관이다. 주말에도 문을 연다. 질문: 가나다 도서관은 주말에 문을 여는가? 답변: `, []string{"아니오", "예"}, 1},
		// f"{premise} {connector}" with connector " 그래서" (an effect): two spaces.
		"kobest_copa": {4, "비가 많이 내렸다.  그래서", []string{"길이 젖었다.", "길이 말랐다."}, 0},
		// f"문장1: {context_1} 문장2: {context_2} 두 문장에서 {word}가 같은 뜻으로 쓰였나?"
		"kobest_wic": {2, "문장1: [배]가 고파서 밥을 먹었다. 문장2: [배]를 타고 섬에 갔다. 두 문장에서 배가 같은 뜻으로 쓰였나?", []string{"아니오", "예"}, 0},
		// "문장: {context}", the four endings as choices, label 0-based.
		"kobest_hellaswag": {2, "문장: 아이가 공원에 간다. 그네를 본다.", []string{"아이가 그네를 탄다.", "그네가 날아간다.", "공원이 사라진다.", "아이가 잠든다."}, 0},
		// f"문장: {sentence} 긍부정:"; choices 부정, 긍정.
		"kobest_sentineg": {4, "문장: 정말 만족스러운 제품이에요 긍부정:", []string{"부정", "긍정"}, 1},
	}
	for name, w := range cases {
		docs, err := task(t, name).Load("testdata/kobest", "dev")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(docs) != w.n {
			t.Fatalf("%s: %d items, want %d", name, len(docs), w.n)
		}
		d := docs[0]
		if d.Text != w.text || !slices.Equal(d.Choices, w.choices) || d.Target != w.target {
			t.Errorf("%s: got %q %q %d\nwant %q %q %d", name, d.Text, d.Choices, d.Target, w.text, w.choices, w.target)
		}
	}
	docs, _ := task(t, "kobest_boolq").Load("testdata/kobest", "dev")
	if want := "\"이 문장에는 \"\"따옴표\"\"와\t탭이 들어 있다.\""; !strings.HasPrefix(docs[1].Text, "이 문장에는 \"따옴표\"와\t탭이 들어 있다. 질문:") {
		t.Errorf("quoted field: %q (from %q)", docs[1].Text, want)
	}
	if docs[2].Line != 4 || docs[2].ID != "3" {
		t.Errorf("third row: line %d id %s", docs[2].Line, docs[2].ID)
	}
	copa, _ := task(t, "kobest_copa").Load("testdata/kobest", "dev")
	if copa[1].Text != "아이가 울었다.  왜냐하면" || copa[2].Target != 1 {
		t.Errorf("COPA cause item %q, target %d", copa[1].Text, copa[2].Target)
	}
}

// The real dev files: every row parses, and the first item's prompt is
// the harness's, written out by hand from the YAML and utils.py.
func TestKoBESTDev(t *testing.T) {
	dir := kobestDir(t)
	want := map[string]struct {
		n      int
		text   string
		target int
	}{
		"kobest_boolq":     {700, "구한말, 통영 안뒤산 기슭 간창골에 김봉제 형제가 살았다. 김봉제는 관약국을 경영하며 부를 누렸는데, 선비적 성품을 지녔던 형과 반대로 막냇동생 김봉룡은 성질이 포악했다. 어느 날 봉룡은 아내였던 숙정을 사모하던 나그네를 살해하였고, 숙정은 누명을 벗으려고 비상을 먹고 자살한다. 질문: 봉룡은 숙정을 죽였는가? 답변: ", 0},
		"kobest_copa":      {500, "전쟁이 시작되었다.  그래서", 1},
		"kobest_wic":       {610, "문장1: 백제는 의자왕의 방탕과 [실정]으로 패망했다고 보는 견해가 있다. 문장2: 지금 회사는 자금난으로 공장을 운영할 수 없는 [실정]이다. 두 문장에서 실정가 같은 뜻으로 쓰였나?", 0},
		"kobest_hellaswag": {500, "문장: 모자를 쓴 투수가 타자에게 온 힘을 다해 공을 던진다. 공이 타자에게 빠른 속도로 다가온다. 타자가 공을 배트로 친다. 배트에서 깡 소리가 난다. 공이 하늘 위로 날아간다.", 3},
		"kobest_sentineg":  {400, "문장: 만족입니다 긍부정:", 1},
	}
	for name, w := range want {
		docs, err := task(t, name).Load(dir, "dev")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(docs) != w.n || docs[0].Text != w.text || docs[0].Target != w.target {
			t.Errorf("%s: %d items, first %q target %d; want %d, %q, %d", name, len(docs), docs[0].Text, docs[0].Target, w.n, w.text, w.target)
		}
	}
	// The train files parse too (few-shot pools), HellaSwag's quoted
	// fields unquoted and BoolQ's leading quotations kept.
	for _, tk := range kobestTasks() {
		docs, err := tk.Load(dir, "train")
		if err != nil || len(docs) < 2000 {
			t.Errorf("%s train: %d items, %v", tk.Name, len(docs), err)
		}
	}
	copa, _ := task(t, "kobest_copa").Load(dir, "dev")
	if c := copa[0].Choices; c[0] != "병사들이 집으로 돌아왔다." || c[1] != "병사들이 전투에 파견되었다." {
		t.Errorf("COPA choices %q", c)
	}
}

func TestTSVErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(task, split, body string) {
		os.MkdirAll(filepath.Join(dir, task), 0o755)
		if err := os.WriteFile(filepath.Join(dir, task, split+".tsv"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("COPA", "dev", "ID\tsentence\tquestion\t1\t2\tAnswer\n1\ta\t결과\tb\tc\t1\n2\ta\t결과\tb\tc\n")
	write("SentiNeg", "dev", "ID\tLabel\tText\n1\t1\t좋다\n2\t3\t나쁘다\n")
	write("WiC", "dev", "ID\tTarget\tSENTENCE1\n")
	write("BoolQ", "dev", "ID\tText\tQuestion\tAnswer\n1\t\t질문\tTrue\n")
	write("HellaSwag", "dev", "context\tchoice1\tchoice2\tchoice3\tchoice4\tlabel\n\xff\ta\tb\tc\td\t0\n")
	cases := []struct {
		task, split string
		want        []string
	}{
		{"kobest_copa", "dev", []string{"COPA/dev.tsv line 3", `field "Answer"`, "5 fields, the header 6"}},
		{"kobest_sentineg", "dev", []string{"SentiNeg/dev.tsv line 3", `field "Label"`, `"3" is not one of 0, 1`}},
		{"kobest_wic", "dev", []string{"WiC/dev.tsv line 1", `no column "SENTENCE2"`}},
		{"kobest_boolq", "dev", []string{"BoolQ/dev.tsv line 2", `field "Text"`, "empty"}},
		{"kobest_hellaswag", "dev", []string{"HellaSwag/dev.tsv line 2", "invalid UTF-8"}},
		{"kobest_copa", "test", []string{"split \"test\"", "splits present: dev"}},
	}
	for _, c := range cases {
		_, err := task(t, c.task).Load(dir, c.split)
		if err == nil {
			t.Errorf("%s %s: no error", c.task, c.split)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.task, err, w)
			}
		}
	}
	if _, err := task(t, "kobest_copa").Load(filepath.Join(dir, "nope"), "dev"); err == nil || !strings.Contains(err.Error(), "data dir") {
		t.Errorf("missing data dir: %v", err)
	}
	if _, err := Lookup("kobest_mmlu"); !errors.Is(err, ErrUnknownTask) || !strings.Contains(err.Error(), "kobest_copa") {
		t.Errorf("unknown task: %v", err)
	}
	if ts, _ := Lookup("kobest"); len(ts) != 5 {
		t.Errorf("kobest names %d tasks", len(ts))
	}
}

// wordEncoder is a toy tokenizer: each maximal run of non-spaces with the
// spaces before it is a token, except that "ab" after "x" splits as
// "x","ab" (so encoding across a boundary can merge).
type wordEncoder struct{ vocab map[string]int }

func (w *wordEncoder) EncodeOrdinary(s string) ([]int, error) {
	var out []int
	for len(s) > 0 {
		i := strings.IndexFunc(s, func(r rune) bool { return r != ' ' })
		if i < 0 {
			i = len(s)
		}
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			j = len(s) - i
		}
		piece := s[:i+j]
		if _, ok := w.vocab[piece]; !ok {
			w.vocab[piece] = len(w.vocab)
		}
		out = append(out, w.vocab[piece])
		s = s[i+j:]
	}
	return out, nil
}

func TestEncodePair(t *testing.T) {
	enc := &wordEncoder{vocab: map[string]int{}}
	// BoolQ: context "… 답변: " and continuation " 예": the trailing space
	// moves, so the continuation is "  예", one token of its own.
	ctx, cont, err := EncodePair(enc, "문단 질문: 무엇? 답변: ", " 예")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := enc.EncodeOrdinary("문단 질문: 무엇? 답변:")
	if !slices.Equal(ctx, want) || len(cont) != 1 || cont[0] != enc.vocab["  예"] {
		t.Errorf("ctx %v cont %v (vocab %v)", ctx, cont, enc.vocab)
	}
	// A continuation that merges with the end of the context: the split is
	// by token count, encode(whole)[len(encode(context)):], as the harness.
	ctx, cont, _ = EncodePair(enc, "가 나", "다 라")
	whole, _ := enc.EncodeOrdinary("가 나다 라")
	if len(ctx) != 2 || !slices.Equal(cont, whole[2:]) || len(cont) != 1 {
		t.Errorf("merged boundary: ctx %v cont %v whole %v", ctx, cont, whole)
	}
}

func TestRollingWindows(t *testing.T) {
	toks := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// The harness's get_rolling_token_windows(max_seq_len=4, context_len=1)
	// + make_disjoint_window gives ([P],[1..4]), ([4],[5..8]),
	// ([6,7,8],[9,10]).
	got := rollingWindows(toks, 0, 4)
	want := []Request{{[]int{0}, []int{1, 2, 3, 4}}, {[]int{4}, []int{5, 6, 7, 8}}, {[]int{6, 7, 8}, []int{9, 10}}}
	if len(got) != len(want) {
		t.Fatalf("windows %v", got)
	}
	for i := range want {
		if !slices.Equal(got[i].Context, want[i].Context) || !slices.Equal(got[i].Continuation, want[i].Continuation) {
			t.Errorf("window %d: %v, want %v", i, got[i], want[i])
		}
	}
	// Every token is predicted once, no window is longer than maxLen+1.
	for n := 1; n < 40; n++ {
		for maxLen := 1; maxLen < 9; maxLen++ {
			toks := make([]int, n)
			for i := range toks {
				toks[i] = i + 1
			}
			var all []int
			for _, w := range rollingWindows(toks, 0, maxLen) {
				if len(w.Context) == 0 || len(w.Context)+len(w.Continuation) > maxLen+1 {
					t.Fatalf("n %d maxLen %d: window %v", n, maxLen, w)
				}
				all = append(all, w.Continuation...)
			}
			if !slices.Equal(all, toks) {
				t.Fatalf("n %d maxLen %d: predicted %v", n, maxLen, all)
			}
		}
	}
	if countWords("a  b\tc") != 3 || countWords(" a") != 2 || countWords("하늘이 맑다.") != 2 {
		t.Error("countWords")
	}
}

func TestMetrics(t *testing.T) {
	acc, se := Accuracy([]int{1, 1, 0, 1}, []int{1, 0, 0, 1})
	// x = 1,0,1,1: mean 0.75, sample sd 0.5, stderr 0.5/2.
	if acc != 0.75 || math.Abs(se-0.25) > 1e-12 {
		t.Errorf("acc %v stderr %v", acc, se)
	}
	// Class 0: tp 1 fp 1 fn 1, F1 0.5; class 1: tp 2 fp 1 fn 1, F1 2/3.
	if f := MacroF1([]int{0, 0, 1, 1, 1}, []int{0, 1, 1, 1, 0}); math.Abs(f-(0.5+2.0/3)/2) > 1e-12 {
		t.Errorf("macro F1 %v", f)
	}
	// A label only predicted counts with F1 0 (sklearn's labels are the
	// union): class 0 tp 2 fn 1 → 0.8, class 1 → 0.
	if f := MacroF1([]int{0, 0, 0}, []int{0, 1, 0}); math.Abs(f-0.4) > 1e-12 {
		t.Errorf("macro F1 with a predicted-only label %v", f)
	}
	if f := chanceF1([]int{0, 1, 0, 1}, 2); math.Abs(f-0.5) > 1e-12 {
		t.Errorf("chance F1 %v", f)
	}
	if a, f := majority([]int{0, 0, 0, 1}); a != 0.75 || math.Abs(f-(6.0/7)/2) > 1e-12 {
		t.Errorf("majority %v %v", a, f)
	}
	// acc_norm divides by characters, not bytes: 2 Hangul syllables.
	if n := normalized([]float64{-4, -9}, []string{"가나", "abc"}); n[0] != -2 || n[1] != -3 {
		t.Errorf("normalized %v", n)
	}
	ll := -10.0
	vals, _ := Metrics(Perplexity(), []Record{{LogLikelihood: &ll, Words: 5, Bytes: 20}}, 0, 1)
	wantV := []float64{math.Exp(2), math.Exp(0.5), 0.5 / math.Ln2}
	for i, v := range vals {
		if math.Abs(v.Value-wantV[i]) > 1e-12 {
			t.Errorf("%s = %v, want %v", v.Metric, v.Value, wantV[i])
		}
	}
}

func TestFewshot(t *testing.T) {
	tk := task(t, "kobest_boolq")
	pool, err := tk.Load("testdata/kobest", "train")
	if err != nil {
		t.Fatal(err)
	}
	d := Doc{Text: "문단 질문: 무엇? 답변: "}
	prefix := func(d Doc, k int) (string, error) {
		exs, err := fewshotExamples(tk, d, pool, k, 7, 0)
		return strings.TrimSuffix(textPrompt(tk, d, exs, ""), d.Text), err
	}
	a, _ := prefix(d, 2)
	b, _ := prefix(d, 2)
	if a != b || strings.Count(a, "\n\n") != 2 || !strings.Contains(a, " 답변:  ") {
		t.Errorf("few-shot prefix %q", a)
	}
	// Solved examples end in the gold choice after the target delimiter.
	if !strings.Contains(a, "답변:  예\n\n") && !strings.Contains(a, "답변:  아니오\n\n") {
		t.Errorf("few-shot example without its answer: %q", a)
	}
	if _, err := prefix(pool[0], 3); err == nil {
		t.Error("asked for more examples than the pool has once the item is left out")
	}
}
