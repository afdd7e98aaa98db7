package pii

import (
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// mixed holds one of each kind among ordinary Korean and English text.
const mixed = "홍길동(주민번호 900101-1234568)의 연락처는 010-1234-5678, 메일 hong@naver.com. " +
	"카드 4111-1111-1111-1111로 결제, 환불은 국민은행 123456-12-123456. " +
	"접속 IP 192.168.0.10 / fe80::1, 주소 서울특별시 중구 세종대로 110. 평점 10점, 2024-01-15 관람."

func TestRedactMixed(t *testing.T) {
	got, counts := New(Options{}).Redact(mixed)
	want := "홍길동(주민번호 <|pii:rrn|>)의 연락처는 <|pii:phone|>, 메일 <|pii:email|>. " +
		"카드 <|pii:card|>로 결제, 환불은 국민은행 <|pii:account|>. " +
		"접속 IP <|pii:ip|> / <|pii:ip|>, 주소 서울특별시 중구 <|pii:address|>. 평점 10점, 2024-01-15 관람."
	if got != want {
		t.Errorf("Redact:\n got %s\nwant %s", got, want)
	}
	wantCounts := Counts{RRN: 1, Phone: 1, Email: 1, Card: 1, Account: 1, IP: 2, Address: 1}
	if !maps.Equal(counts, wantCounts) {
		t.Errorf("counts %v, want %v", counts, wantCounts)
	}
	if counts.Total() != 8 {
		t.Errorf("Total %d, want 8", counts.Total())
	}
}

func TestRedactNothing(t *testing.T) {
	s := "정말 재밌는 영화였어요 10점 만점에 10점! 2024년 1월 15일"
	got, counts := New(Options{}).Redact(s)
	if got != s || counts == nil || len(counts) != 0 {
		t.Errorf("Redact(%q) = %q, %v; want it unchanged with empty non-nil counts", s, got, counts)
	}
}

func TestPlaceholderOption(t *testing.T) {
	r := New(Options{Placeholder: func(k Kind) string { return "<" + strings.ToUpper(string(k)) + ">" }})
	got, _ := r.Redact("전화 010-1234-5678 메일 a@b.co.kr")
	if want := "전화 <PHONE> 메일 <EMAIL>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if DefaultPlaceholder(RRN) != "<|pii:rrn|>" {
		t.Errorf("DefaultPlaceholder(RRN) = %q", DefaultPlaceholder(RRN))
	}
}

func TestKindsFilter(t *testing.T) {
	for _, k := range Precedence() {
		r := New(Options{Kinds: []Kind{k}})
		_, counts := r.Redact(mixed)
		for kk, n := range counts {
			if kk != k {
				t.Errorf("Kinds [%s]: also redacted %d %s", k, n, kk)
			}
		}
		if counts[k] == 0 {
			t.Errorf("Kinds [%s]: found none in the mixed text", k)
		}
	}
	_, counts := New(Options{Kinds: []Kind{Phone, Email}}).Redact(mixed)
	if want := (Counts{Phone: 1, Email: 1}); !maps.Equal(counts, want) {
		t.Errorf("Kinds [phone email]: counts %v, want %v", counts, want)
	}
}

func TestUnknownKindPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with an unknown kind did not panic")
		}
	}()
	New(Options{Kinds: []Kind{"ssn"}})
}

// TestPrecedence pins how overlapping candidates are resolved: the kind
// earlier in Precedence wins, whatever the order of the text.
func TestPrecedence(t *testing.T) {
	want := []Kind{Email, RRN, Card, Account, Phone, IP, Address}
	if got := Precedence(); !equalKinds(got, want) {
		t.Fatalf("Precedence() = %v, want %v", got, want)
	}
	cases := []struct {
		text  string
		kinds []Kind // nil: all
		want  []Match
	}{
		// A mobile number as the local part: the e-mail address wins.
		{"01012345678@naver.com", nil, []Match{{Email, 0, 21}}},
		// Without Email, the phone number is found on its own.
		{"01012345678@naver.com", []Kind{Phone, Card, RRN}, []Match{{Phone, 0, 11}}},
		// 13 digits valid both as an RRN (1945-03-15) and a Visa card.
		{"4503151000022", nil, []Match{{RRN, 0, 13}}},
		{"4503151000022", []Kind{Card}, []Match{{Card, 0, 13}}},
		// An IPv4 address inside an IPv6 one is one IP match.
		{"::ffff:192.0.2.128", nil, []Match{{IP, 0, 18}}},
		// A phone number in an e-mail local part with a dot.
		{"x.010-1234-5678@a.kr", nil, []Match{{Email, 0, 20}}},
		// Side by side, nothing overlaps: both are kept.
		{"세종대로 110 02-123-4567", nil, []Match{{Address, 0, 16}, {Phone, 17, 28}}},
	}
	for _, c := range cases {
		got := New(Options{Kinds: c.kinds}).Find(c.text)
		if !equalMatches(got, c.want) {
			t.Errorf("Find(%q) with %v = %v, want %v", c.text, c.kinds, got, c.want)
		}
	}
}

func equalKinds(a, b []Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalMatches(a, b []Match) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMergeView(t *testing.T) {
	text := "0123456789abcdefghij"
	acc := []Match{{Email, 5, 10}, {Email, 12, 15}}
	view := buildView(text, acc)
	if want := "01234<>ab<>fghij"; view != want {
		t.Fatalf("buildView = %q, want %q", view, want)
	}
	found := []Match{{Phone, 0, 2}, {Phone, 7, 9}, {Phone, 11, 16}}
	got := mergeView(acc, found)
	want := []Match{{Phone, 0, 2}, {Email, 5, 10}, {Phone, 10, 12}, {Email, 12, 15}, {Phone, 15, 20}}
	if !equalMatches(got, want) {
		t.Errorf("mergeView = %v, want %v", got, want)
	}
	for _, m := range got[:1] {
		if text[m.Start:m.End] != "01" {
			t.Errorf("first match covers %q", text[m.Start:m.End])
		}
	}
}

// rebuild applies matches as Redact should, from Find's offsets.
func rebuild(r *Redactor, s string, ms []Match) string {
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(r.placeholders[m.Kind])
		last = m.End
	}
	return b.String() + s[last:]
}

// checkInvariants is shared by the table tests and the fuzz target.
func checkInvariants(t *testing.T, r *Redactor, s string) {
	t.Helper()
	ms := r.Find(s)
	prev := 0
	for _, m := range ms {
		if m.Start < prev || m.End <= m.Start || m.End > len(s) {
			t.Fatalf("Find(%q): bad or overlapping match %v after offset %d in %v", s, m, prev, ms)
		}
		if !isKind(m.Kind) {
			t.Fatalf("Find(%q): unknown kind in %v", s, m)
		}
		prev = m.End
	}
	out, counts := r.Redact(s)
	if want := rebuild(r, s, ms); out != want {
		t.Fatalf("Redact(%q) = %q; Find's offsets give %q", s, out, want)
	}
	if counts.Total() != len(ms) {
		t.Fatalf("Redact(%q): counts %v for %d matches", s, counts, len(ms))
	}
	if utf8.ValidString(s) && !utf8.ValidString(out) {
		t.Fatalf("Redact(%q) = %q: invalid UTF-8 from valid input", s, out)
	}
	if again, c2 := r.Redact(out); again != out {
		t.Fatalf("not idempotent: %q -> %q -> %q (%v)", s, out, again, c2)
	}
}

func TestInvariants(t *testing.T) {
	r := New(Options{})
	texts := []string{
		mixed,
		"",
		"\xff\xfe010-1234-5678\xc3",
		"주민번호\xff 900101-1234568 \xed\xa0\x80 a@b.kr\x80",
		strings.Repeat("010-1234-5678 ", 50),
		strings.Repeat("1.2.3.4.", 100),
		strings.Repeat("a@", 100) + "b.com",
		strings.Repeat("서울 강남구 역삼동 12-3 ", 20),
		strings.Repeat("::", 100) + "1",
		"+82+82+82 (+82)(+82) 010",
		// Neighbours that once changed each other's fate when redacted.
		"서울특별시 역삼동 5678..2001:db8::1 강남구 역삼동 1588-1234:2001:db8::1",
		"1111 1111 1111 1111::a@b.kr 010-1234-5678-192.168.0.1 ::fe80+82010-1234-5678",
		"010)0000 0000세종대로 1 x@00000.AA속0.10.0.0 fe80::010.1234.5678 10.0.0.1::abcd:1",
	}
	for _, s := range texts {
		checkInvariants(t, r, s)
	}
}

// TestInvalidUTF8 checks that bytes that are not UTF-8 pass through as
// they are, and do not stop matches around them.
func TestInvalidUTF8(t *testing.T) {
	s := "\xff010-1234-5678\xfe 메일\x80a@b.kr\xc3"
	got, counts := New(Options{}).Redact(s)
	want := "\xff<|pii:phone|>\xfe 메일\x80<|pii:email|>\xc3"
	if got != want || counts.Total() != 2 {
		t.Errorf("Redact(%q) = %q, %v; want %q", s, got, counts, want)
	}
}

func TestConcurrent(t *testing.T) {
	r := New(Options{})
	want, _ := r.Redact(mixed)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got, _ := r.Redact(mixed); got != want {
					t.Errorf("concurrent Redact differs: %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestLinearTime redacts long hostile inputs; a quadratic scanner would
// take seconds on these, a linear one milliseconds.
func TestLinearTime(t *testing.T) {
	if testing.Short() {
		t.Skip("long inputs")
	}
	r := New(Options{})
	for _, unit := range []string{
		"0", "1-", "1.", "1 ", "@", "a@", "a.", ":", "f:", "a:1", "(", "+82", "(+82)",
		"동 1", "로 1", "서울 ", "대로 1-1 ", "9001011234568", "010-1234-5678-", "계좌 ",
	} {
		s := strings.Repeat(unit, 1<<20/len(unit))
		r.Find(s) // must finish; the test's timeout is the check
		checkInvariants(t, r, s[:4096])
	}
}

// hostilePieces are fragments that make candidates of every kind touch,
// overlap and nearly match. TestRandomPieces strings them together.
var hostilePieces = []string{
	"0", "1", "9", "010", "02", "1234", "5678", "123456", "-", ".", " ", ":", "::", "(", ")", "+82",
	"@", "a", "x", "ab", "kr", "com", ".kr", "naver.com", "fe80", "ffff", "10.0.0.1", "192.168.0.1",
	"900101-1234568", "850612-2345678", "4111 1111 1111 1111", "4111111111111111",
	"123-456-789012", "3333-01-1234567", "010-1234-5678", "a@b.kr", "x@한국.kr",
	"주민번호 ", "국민은행 ", "account ", "버전 ", "version ", "서울특별시 ", "강남구 ", "역삼동 ",
	"세종대로", "테헤란로", "12번길", "번지", "동", "층", "호", "에", "가", "리", "로", "길",
	"<", ">", "|", "<|pii:ip|>", "\xff", "\xed\xa0", "속", "ㅋ", "\n",
	"(+82)", "(0)", "번길", "2", " 101동", ",", "0.0.0.10", "계좌 ", "2001:db8::1", "00", "@x.co",
	"..", "_", "%", "e", "서울 ", "45길", "1588-1234", "+", "3", "2024", "송장 ", "phone ", "Foo", "::1234", "0호", "대로대로 ", "세종대로 1 ", "역삼동 1번지", " 3층",
	// Dashes as people type them, and a domestic card prefix.
	" - ", " -", "- ", "–", " – ", "—", "－", "9410", "900101 - 1234568", "9410 - 1234 - 5678 - 9010", "850612 2345673",
}

// TestRandomPieces checks the invariants of FuzzRedact on random strings
// of hostile pieces, which reach far more near-collisions between kinds
// than random bytes do.
func TestRandomPieces(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 3000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	r := New(Options{})
	var b strings.Builder
	for range n {
		b.Reset()
		for range 1 + rng.IntN(16) {
			b.WriteString(hostilePieces[rng.IntN(len(hostilePieces))])
		}
		checkInvariants(t, r, b.String())
	}
}

func TestIndexDigit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'/', '0', '5', '9', ':', 'a', ' ', 0x80, 0xb0, 0xb9, 0xff, 0x2f, 0x3a, 0xed}
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(8) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = alphabet[len(alphabet)-1-rng.IntN(6)] // mostly non-digits
			}
		}
		s := string(b)
		for from := 0; from <= len(s); from++ {
			want := -1
			for i := from; i < len(s); i++ {
				if isDigit(s[i]) {
					want = i
					break
				}
			}
			if got := indexDigit(s, from); got != want {
				t.Fatalf("indexDigit(%q, %d) = %d, want %d", s, from, got, want)
			}
		}
	}
	// Every byte value, at every position of an 8-byte word.
	for c := range 256 {
		for pos := range 9 {
			b := []byte("xxxxxxxxxxxxxxxx")
			b[pos] = byte(c)
			want := -1
			if isDigit(byte(c)) {
				want = pos
			}
			if got := indexDigit(string(b), 0); got != want {
				t.Fatalf("byte %#x at %d: got %d, want %d", c, pos, got, want)
			}
		}
	}
}
