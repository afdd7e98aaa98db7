package pii

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPlantedRecall measures recall on generated personal information: valid
// values (real dates and check digits, Luhn, real area codes and bank
// layouts) written in the formats people use, planted either in a real NSMC
// review or in a short template sentence. A planted value counts as found
// only if Find returns a match of the right kind over exactly its span
// (give or take parentheses, see plantedFound).
//
// The data-curation issue asks for at least 99% recall on registration
// numbers, phones, e-mails and cards (with at most 1% of NSMC reviews flagged
// falsely, which TestNSMC checks); those four kinds are asserted. Account,
// IP and address recall are logged only.
//
// Formats the package deliberately refuses are still generated, but apart
// (outOfScope gives the reason), and their recall is logged and never
// asserted, so that a reader sees what is not covered.
func TestPlantedRecall(t *testing.T) {
	const n = 2000          // planted values per kind, in-scope formats
	const nOutOfScope = 200 // per out-of-scope format, logged only
	reviews := nsmcTexts(t, 20000)
	r := New(Options{})
	asserted := map[Kind]bool{RRN: true, Phone: true, Email: true, Card: true}

	for ki, g := range recallGenerators() {
		rng := rand.New(rand.NewPCG(uint64(ki)+1, 0x5eed))
		type tally struct{ found, total int }
		byFormat := map[string]*tally{}
		byContext := map[string]*tally{}
		var misses []string
		var in, outside []recallFormat
		for _, f := range g.formats {
			if f.outOfScope == "" {
				in = append(in, f)
			} else {
				outside = append(outside, f)
			}
		}
		plant := func(f recallFormat, i int) bool {
			cue, value := f.gen(rng)
			var text, ctx string
			var start int
			if i%2 == 0 {
				// Half in a real review: between words, or glued to Hangul
				// on both sides ("번호는010-1234-5678입니다").
				glued := i%4 == 0 && !g.spacedOnly
				text, start = plantInReview(rng, reviews[rng.IntN(len(reviews))], cue, value, glued)
				ctx = "nsmc review, spaced"
				if glued {
					ctx = "nsmc review, glued to Hangul"
				}
			} else {
				tmpl := g.templates[rng.IntN(len(g.templates))]
				pre, post, _ := strings.Cut(tmpl, "%s")
				text = pre + cue + value + post
				start = len(pre) + len(cue)
				ctx = tmpl
			}
			end := start + len(value)
			ok, why := plantedFound(r.Find(text), g.kind, start, end, text)
			if f.outOfScope != "" {
				return ok
			}
			for _, mk := range []struct {
				m   map[string]*tally
				key string
			}{{byFormat, f.name}, {byContext, ctx}} {
				m, key := mk.m, mk.key
				if m[key] == nil {
					m[key] = &tally{}
				}
				m[key].total++
				if ok {
					m[key].found++
				}
			}
			if !ok && len(misses) < 8 {
				misses = append(misses, fmt.Sprintf("%s [%s]: %s in %q", f.name, value, why, text))
			}
			return ok
		}
		found := 0
		for i := range n {
			if plant(in[rng.IntN(len(in))], i) {
				found++
			}
		}
		recall := float64(found) / n

		t.Logf("%s: recall %.4f (%d/%d)", g.kind, recall, found, n)
		for _, f := range in {
			c := byFormat[f.name]
			t.Logf("  %-44s %.4f (%d/%d)", f.name, ratio(c.found, c.total), c.found, c.total)
		}
		ctxs := make([]string, 0, len(byContext))
		for k := range byContext {
			ctxs = append(ctxs, k)
		}
		slices.Sort(ctxs)
		for _, k := range ctxs {
			c := byContext[k]
			t.Logf("  context %-36q %.4f (%d/%d)", k, ratio(c.found, c.total), c.found, c.total)
		}
		for _, f := range outside {
			ok := 0
			for i := range nOutOfScope {
				if plant(f, i) {
					ok++
				}
			}
			t.Logf("  out of scope: %-30s %.4f (%d/%d): %s", f.name, ratio(ok, nOutOfScope), ok, nOutOfScope, f.outOfScope)
		}
		for _, m := range misses {
			t.Logf("  miss: %s", m)
		}
		if asserted[g.kind] && recall < 0.99 {
			t.Errorf("%s: recall %.4f on planted values, want at least 0.99", g.kind, recall)
		}
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// plantedFound reports whether ms holds a match of kind over exactly
// [start, end), and otherwise what was found there instead.
//
// One widening is allowed: parentheses around the value may belong to the
// match. "051)123-4567" planted in "홍길동(%s)" reads "(051)123-4567)",
// and "(051)123-4567" is the right answer there.
func plantedFound(ms []Match, kind Kind, start, end int, text string) (bool, string) {
	for _, m := range ms {
		if m.Kind == kind && m.Start <= start && m.End >= end &&
			strings.Trim(text[m.Start:start]+text[end:m.End], "()") == "" {
			return true, ""
		}
	}
	for _, m := range ms {
		if m.Start < end && start < m.End {
			return false, fmt.Sprintf("found %s %q instead", m.Kind, text[m.Start:m.End])
		}
	}
	return false, "nothing found"
}

// plantInReview inserts cue+value into review and returns the text and the
// offset of value. Spaced, it goes at a word boundary (the start, the end,
// or a space) with a space on each side. Glued, it goes between two Hangul
// syllables with nothing around it, as in "번호는010-1234-5678입니다"; a
// review without two adjacent syllables gets it spaced.
func plantInReview(rng *rand.Rand, review, cue, value string, glued bool) (string, int) {
	var cuts []int
	if glued {
		prevHangul := false
		for i, c := range review {
			h := isSyllable(c)
			if h && prevHangul {
				cuts = append(cuts, i)
			}
			prevHangul = h
		}
		if len(cuts) == 0 {
			glued = false // no two syllables side by side: plant it spaced
		}
	}
	if !glued {
		cuts = append(cuts, 0, len(review))
		for i := 0; i < len(review); i++ {
			if review[i] == ' ' {
				cuts = append(cuts, i)
			}
		}
	}
	p := cuts[rng.IntN(len(cuts))]
	var b strings.Builder
	b.WriteString(review[:p])
	if p > 0 && !glued {
		b.WriteByte(' ')
	}
	b.WriteString(cue)
	start := b.Len()
	b.WriteString(value)
	if p < len(review) && !glued {
		b.WriteByte(' ')
	}
	b.WriteString(review[p:])
	return b.String(), start
}

// recallFormat generates one written form of a kind: value is what must be
// found; cue is text that must stand just before it for it to count as
// personal information at all (a bank name before an account number), or "".
type recallFormat struct {
	name       string
	gen        func(rng *rand.Rand) (cue, value string)
	outOfScope string // why the package does not find this form; "" if it should
}

type recallGenerator struct {
	kind      Kind
	formats   []recallFormat
	templates []string // each with one %s
	// spacedOnly keeps values from being glued to Hangul in reviews: an
	// address begins with a place name, and "좋서울" is not 서울.
	spacedOnly bool
}

func recallGenerators() []recallGenerator {
	return []recallGenerator{
		{RRN, rrnFormats(), []string{
			"주민등록번호: %s", "주민번호 %s 입니다", "본인 확인용 %s 입력", "(%s)",
			"Her number is %s.", "번호는%s입니다", "신청서에 %s 적어서 냈어요",
		}, false},
		{Phone, phoneFormats(), []string{
			"연락처: %s", "문의 %s 로 연락주세요", "Contact me at %s.", "전화번호는%s입니다",
			"%s로 문자 주세요", "tel:%s", "HP %s / 카톡 hong", "홍길동(%s)", "☎%s, 평일 9시~6시",
		}, false},
		{Email, emailFormats(), []string{
			"메일은%s입니다", "(%s)", "Contact me at %s.", "이메일: %s", "<%s>",
			"%s로 보내주세요", "mailto:%s", "문의는 %s 으로",
		}, false},
		{Card, cardFormats(), []string{
			"카드번호 %s 결제", "card no. %s exp 12/27", "%s로 결제했어요", "카드: %s",
			"Paid with %s.", "(%s)",
		}, false},
		{Account, accountFormats(), []string{
			"계좌번호: %s", "%s 로 입금 부탁드립니다", "환불 계좌 %s (예금주 홍길동)", "입금: %s",
		}, false},
		{IP, ipFormats(), []string{
			"접속 IP: %s", "서버 %s 에서 오류", "from %s.", "아이피%s입니다", "IP %s 차단",
		}, false},
		{Address, addressFormats(), []string{
			"주소: %s", "%s에서 만나요", "배송지: %s (우편번호 06236)", "%s 으로 보내주세요",
			"%s로 보내주세요",
		}, true},
	}
}

// randDigits returns k random decimal digits.
func randDigits(rng *rand.Rand, k int) string {
	b := make([]byte, k)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

// fullWidth writes ASCII digits and "-" in their full-width forms.
func fullWidth(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c - '0' + '０')
		case c == '-':
			b.WriteRune('－')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// ---- RRN ----

// rrnKind selects the check digit rule of a generated registration number.
type rrnKind int

const (
	rrnCitizen       rrnKind = iota // gender 1-4, standard check digit
	rrnForeigner                    // gender 5-8, standard check digit
	rrnForeignerPlus                // gender 5-8, the +2 variant
	rrnNoChecksum                   // gender 1-4, random last digits (issued since October 2020)
)

// genRRN returns 13 digits with a valid birth date for the gender digit.
func genRRN(rng *rand.Rand, kind rrnKind) string {
	// Born 1920-2024: a year before this one, so it holds whenever the test runs.
	year := 1920 + rng.IntN(105)
	month := 1 + rng.IntN(12)
	day := 1 + rng.IntN(daysIn(year, month))
	g := 1 + rng.IntN(2) // sex
	if year >= 2000 {
		g += 2
	}
	if kind == rrnForeigner || kind == rrnForeignerPlus {
		g += 4
	}
	d := []byte(fmt.Sprintf("%02d%02d%02d%d", year%100, month, day, g) + randDigits(rng, 5))
	if kind == rrnForeignerPlus {
		d[8] = byte('0' + 2*rng.IntN(5)) // even office code
		d[11] = byte('6' + rng.IntN(4))  // type digit 6-9
	}
	weights := [12]int{2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5}
	sum := 0
	for k, w := range weights {
		sum += int(d[k]-'0') * w
	}
	check := (11 - sum%11) % 10
	switch kind {
	case rrnForeignerPlus:
		check = (check + 2) % 10
	case rrnNoChecksum:
		check = (check + 1 + rng.IntN(9)) % 10 // anything but the valid digit
	}
	return string(d) + strconv.Itoa(check)
}

func rrnFormats() []recallFormat {
	hyphen := func(d string) string { return d[:6] + "-" + d[6:] }
	f := func(name string, kind rrnKind, write func(string) string) recallFormat {
		return recallFormat{name: name, gen: func(rng *rand.Rand) (string, string) {
			return "", write(genRRN(rng, kind))
		}}
	}
	bare := func(d string) string { return d }
	noChecksum := recallFormat{name: "since 2020 (no checksum), cue, 900101-1234567",
		gen: func(rng *rand.Rand) (string, string) {
			cues := []string{"주민등록번호 ", "주민번호: ", "주민 번호 ", "외국인등록번호 ", "RRN: "}
			return cues[rng.IntN(len(cues))], hyphen(genRRN(rng, rrnNoChecksum))
		}}
	out := func(f recallFormat, why string) recallFormat { f.outOfScope = why; return f }
	sep := func(s string) func(string) string { return func(d string) string { return d[:6] + s + d[6:] } }
	spacedNoChecksum := recallFormat{name: "since 2020 (no checksum), cue, 900101 - 1234567",
		gen: func(rng *rand.Rand) (string, string) {
			cues := []string{"주민등록번호 ", "주민번호: ", "RRN: "}
			return cues[rng.IntN(len(cues))], sep(pick(rng, []string{" - ", " -", "- ", " – "}))(genRRN(rng, rrnNoChecksum))
		}}
	return []recallFormat{
		f("citizen 900101-1234567", rrnCitizen, hyphen),
		f("citizen 9001011234567", rrnCitizen, bare),
		f("foreigner 900101-5234567", rrnForeigner, hyphen),
		f("foreigner 9001015234567", rrnForeigner, bare),
		f("foreigner +2 variant 900101-5234567", rrnForeignerPlus, hyphen),
		f("foreigner +2 variant 9001015234567", rrnForeignerPlus, bare),
		noChecksum,
		// As people type them: spaces around the hyphen, a word
		// processor's or phone's dash, a space alone.
		f("spaced hyphen 900101 - 1234567", rrnCitizen, sep(" - ")),
		f("space before 900101 -1234567", rrnCitizen, sep(" -")),
		f("space after 900101- 1234567", rrnCitizen, sep("- ")),
		f("en dash 900101–1234567", rrnCitizen, sep("–")),
		f("spaced en dash 900101 – 1234567", rrnCitizen, sep(" – ")),
		f("em dash 900101—1234567", rrnCitizen, sep("—")),
		f("full-width hyphen 900101－1234567", rrnCitizen, sep("－")),
		f("foreigner spaced hyphen 900101 - 5234567", rrnForeigner, sep(" - ")),
		f("space 900101 1234567", rrnCitizen, sep(" ")),
		spacedNoChecksum,

		out(f("since 2020, no cue, 900101-1234567", rrnNoChecksum, hyphen),
			"without a checksum or a cue word it is any date-shaped serial (order numbers); found only where the template itself holds a cue (주민번호 %s)"),
		out(f("full-width ９００１０１－１２３４５６７", rrnCitizen, func(d string) string { return fullWidth(hyphen(d)) }),
			"scanners read ASCII digits; full-width digits are rare in web text, and the data normalize stage with form: nfkc (not the default nfc) folds them to ASCII"),
	}
}

// ---- Phone ----

// mid returns a middle (exchange) group of k digits, not starting with 0 or 1.
func mid(rng *rand.Rand, k int) string {
	return strconv.Itoa(2+rng.IntN(8)) + randDigits(rng, k-1)
}

var areaCodes = []string{
	"031", "032", "033", "041", "042", "043", "044", "051", "052", "053", "054", "055", "061", "062", "063", "064",
}

func phoneFormats() []recallFormat {
	p := func(name string, gen func(rng *rand.Rand) string) recallFormat {
		return recallFormat{name: name, gen: func(rng *rand.Rand) (string, string) { return "", gen(rng) }}
	}
	mobile := func(rng *rand.Rand) (string, string) { return mid(rng, 4), randDigits(rng, 4) }
	oldMobile := func(rng *rand.Rand) (string, string, string) {
		pre := []string{"011", "016", "017", "018", "019"}[rng.IntN(5)]
		return pre, mid(rng, 3+rng.IntN(2)), randDigits(rng, 4)
	}
	area := func(rng *rand.Rand) string { return areaCodes[rng.IntN(len(areaCodes))] }
	out := func(f recallFormat, why string) recallFormat { f.outOfScope = why; return f }
	return []recallFormat{
		p("010-1234-5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "010-" + a + "-" + b }),
		p("01012345678", func(rng *rand.Rand) string { a, b := mobile(rng); return "010" + a + b }),
		p("010.1234.5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "010." + a + "." + b }),
		p("010 1234 5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "010 " + a + " " + b }),
		p("(010)1234-5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "(010)" + a + "-" + b }),
		p("011-123(4)-5678 (old mobile)", func(rng *rand.Rand) string { x, a, b := oldMobile(rng); return x + "-" + a + "-" + b }),
		p("0111234567 (old mobile, bare)", func(rng *rand.Rand) string { x, a, b := oldMobile(rng); return x + a + b }),
		p("+82-10-1234-5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "+82-10-" + a + "-" + b }),
		p("+82 10 1234 5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "+82 10 " + a + " " + b }),
		p("+821012345678", func(rng *rand.Rand) string { a, b := mobile(rng); return "+8210" + a + b }),
		p("+82-010-1234-5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "+82-010-" + a + "-" + b }),
		p("+82 (0)10-1234-5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "+82 (0)10-" + a + "-" + b }),
		p("(+82) 10-1234-5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "(+82) 10-" + a + "-" + b }),
		p("+82-2-123-4567", func(rng *rand.Rand) string { return "+82-2-" + mid(rng, 3+rng.IntN(2)) + "-" + randDigits(rng, 4) }),
		p("+82 31 123 4567", func(rng *rand.Rand) string {
			return "+82 " + area(rng)[1:] + " " + mid(rng, 3+rng.IntN(2)) + " " + randDigits(rng, 4)
		}),
		p("02-123-4567", func(rng *rand.Rand) string { return "02-" + mid(rng, 3) + "-" + randDigits(rng, 4) }),
		p("02-1234-5678", func(rng *rand.Rand) string { return "02-" + mid(rng, 4) + "-" + randDigits(rng, 4) }),
		p("031-123-4567", func(rng *rand.Rand) string { return area(rng) + "-" + mid(rng, 3) + "-" + randDigits(rng, 4) }),
		p("031-1234-5678", func(rng *rand.Rand) string { return area(rng) + "-" + mid(rng, 4) + "-" + randDigits(rng, 4) }),
		p("02.123.4567 / 031 123 4567", func(rng *rand.Rand) string {
			sep := []string{".", " "}[rng.IntN(2)]
			a := []string{"02", area(rng)}[rng.IntN(2)]
			return a + sep + mid(rng, 3+rng.IntN(2)) + sep + randDigits(rng, 4)
		}),
		p("(02) 123-4567", func(rng *rand.Rand) string {
			a := []string{"02", area(rng)}[rng.IntN(2)]
			return "(" + a + ") " + mid(rng, 3+rng.IntN(2)) + "-" + randDigits(rng, 4)
		}),
		p("(031)1234-5678", func(rng *rand.Rand) string {
			a := []string{"02", area(rng)}[rng.IntN(2)]
			return "(" + a + ")" + mid(rng, 3+rng.IntN(2)) + "-" + randDigits(rng, 4)
		}),
		p("051)123-4567", func(rng *rand.Rand) string {
			a := []string{"02", area(rng)}[rng.IntN(2)]
			return a + ")" + mid(rng, 3+rng.IntN(2)) + "-" + randDigits(rng, 4)
		}),
		p("070-1234-5678", func(rng *rand.Rand) string { a, b := mobile(rng); return "070-" + a + "-" + b }),
		p("010 - 1234 - 5678 (spaced hyphens)", func(rng *rand.Rand) string { a, b := mobile(rng); return "010 - " + a + " - " + b }),
		p("02–123–4567 (en dashes)", func(rng *rand.Rand) string {
			a := []string{"02", area(rng), "010"}[rng.IntN(3)]
			m := mid(rng, 3+rng.IntN(2))
			if a == "010" {
				m = mid(rng, 4)
			}
			return a + "–" + m + "–" + randDigits(rng, 4)
		}),

		out(p("0212345678 / 0311234567 (landline, bare)", func(rng *rand.Rand) string {
			a := []string{"02", area(rng), "070"}[rng.IntN(3)]
			return a + mid(rng, 3+rng.IntN(2)) + randDigits(rng, 4)
		}), "refused on purpose (package doc, TestPhone): ten or eleven bare digits starting with 0 are too often something else"),
		out(p("82-10-1234-5678 (no +)", func(rng *rand.Rand) string { a, b := mobile(rng); return "82-10-" + a + "-" + b }),
			"not supported: without \"+\" the country code is just a leading number group"),
		out(p("010-1234 5678 (mixed separators)", func(rng *rand.Rand) string { a, b := mobile(rng); return "010-" + a + " " + b }),
			"refused on purpose (TestPhone, 010-1234.5678): the groups must share one separator"),
	}
}

// ---- Email ----

var (
	emailWords   = []string{"hong", "gildong", "kim", "lee", "park", "choi", "minsu", "jiyoung", "sky", "blue", "happy", "dev", "user", "test", "sarang", "haneul"}
	emailPortals = []string{"naver.com", "gmail.com", "daum.net", "hanmail.net", "nate.com", "kakao.com", "hotmail.com", "yahoo.co.kr", "korea.com"}
	emailOrgs    = []string{"samsung", "lgchem", "hyundai", "sktelecom", "example", "company", "dokja", "hanbit", "coupang"}
	emailUnivs   = []string{"snu", "korea", "yonsei", "kaist", "postech", "skku", "hanyang"}
	emailGTLDs   = []string{"io", "dev", "shop", "org", "net", "xyz", "app", "kr"}
)

func pick(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }

// localPart returns a local part of one to three words joined by seps, with
// digits sometimes appended.
func localPart(rng *rand.Rand, seps string) string {
	var b strings.Builder
	b.WriteString(pick(rng, emailWords))
	for range rng.IntN(3) {
		if seps != "" {
			b.WriteByte(seps[rng.IntN(len(seps))])
		}
		b.WriteString(pick(rng, emailWords))
	}
	if rng.IntN(2) == 0 {
		b.WriteString(strconv.Itoa(rng.IntN(10000)))
	}
	return b.String()
}

func emailFormats() []recallFormat {
	e := func(name string, gen func(rng *rand.Rand) string) recallFormat {
		return recallFormat{name: name, gen: func(rng *rand.Rand) (string, string) { return "", gen(rng) }}
	}
	return []recallFormat{
		e("name@portal (naver.com, daum.net ...)", func(rng *rand.Rand) string { return localPart(rng, "") + "@" + pick(rng, emailPortals) }),
		e("first.last@portal", func(rng *rand.Rand) string { return localPart(rng, ".") + "@" + pick(rng, emailPortals) }),
		e("first_last99@portal", func(rng *rand.Rand) string { return localPart(rng, "_") + "@" + pick(rng, emailPortals) }),
		e("first-last@portal", func(rng *rand.Rand) string { return localPart(rng, "-") + "@" + pick(rng, emailPortals) }),
		e("name+tag@gmail.com", func(rng *rand.Rand) string {
			return localPart(rng, "._") + "+" + pick(rng, emailWords) + "@" + pick(rng, emailPortals)
		}),
		e("digits@portal (0101234567@naver.com)", func(rng *rand.Rand) string {
			return randDigits(rng, 6+rng.IntN(6)) + "@" + pick(rng, emailPortals)
		}),
		e("name@company.co.kr", func(rng *rand.Rand) string { return localPart(rng, "._") + "@" + pick(rng, emailOrgs) + ".co.kr" }),
		e("name@univ.ac.kr", func(rng *rand.Rand) string { return localPart(rng, "._") + "@" + pick(rng, emailUnivs) + ".ac.kr" }),
		e("name@agency.go.kr / .or.kr", func(rng *rand.Rand) string {
			return localPart(rng, ".") + "@" + pick(rng, emailOrgs) + pick(rng, []string{".go.kr", ".or.kr", ".re.kr"})
		}),
		e("name@mail.sub.company.com", func(rng *rand.Rand) string {
			return localPart(rng, "._-") + "@" + pick(rng, []string{"mail.", "m.", "corp.mail."}) + pick(rng, emailOrgs) + pick(rng, []string{".com", ".co.kr", ".net"})
		}),
		e("name@company.io (other TLDs)", func(rng *rand.Rand) string {
			return localPart(rng, "._") + "@" + pick(rng, emailOrgs) + "." + pick(rng, emailGTLDs)
		}),
		e("name@hyphen-domain.com", func(rng *rand.Rand) string {
			return localPart(rng, ".") + "@" + pick(rng, emailOrgs) + "-" + pick(rng, emailOrgs) + ".com"
		}),
		e("Mixed.Case@Naver.COM", func(rng *rand.Rand) string {
			l := localPart(rng, ".")
			return strings.ToUpper(l[:1]) + l[1:] + "@" + strings.ToUpper(pick(rng, emailPortals))
		}),
		e("name@한국.kr (Hangul domain)", func(rng *rand.Rand) string {
			return localPart(rng, ".") + "@" + pick(rng, []string{"한국", "도메인", "회사이름"}) + pick(rng, []string{".kr", ".com"})
		}),
	}
}

// ---- Card ----

// cardScheme makes a prefix for a scheme whose numbers have the given length.
type cardScheme struct {
	name   string
	length int
	prefix func(rng *rand.Rand) string
}

func oneOf(xs ...string) func(*rand.Rand) string {
	return func(rng *rand.Rand) string { return xs[rng.IntN(len(xs))] }
}

func inRange(lo, hi int) func(*rand.Rand) string {
	return func(rng *rand.Rand) string { return strconv.Itoa(lo + rng.IntN(hi-lo+1)) }
}

// luhnNumber completes prefix with random digits and a Luhn check digit.
func luhnNumber(rng *rand.Rand, prefix string, length int) string {
	d := []byte(prefix + randDigits(rng, length-len(prefix)-1) + "0")
	sum := 0
	for k := len(d) - 2; k >= 0; k-- {
		v := int(d[k] - '0')
		if (len(d)-1-k)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[len(d)-1] = byte('0' + (10-sum%10)%10)
	return string(d)
}

// group splits d into groups of the given sizes joined by sep.
func group(d string, sep string, sizes ...int) string {
	var parts []string
	for _, n := range sizes {
		parts = append(parts, d[:n])
		d = d[n:]
	}
	return strings.Join(parts, sep)
}

func cardFormats() []recallFormat {
	// Korean issuers (BC, 국민, 신한, 삼성, 현대, 롯데 ...) issue cards for
	// use abroad on these international ranges; the issuer is in the BIN.
	schemes16 := []cardScheme{
		{"Visa", 16, oneOf("4")},
		{"Mastercard 51-55", 16, inRange(51, 55)},
		{"Mastercard 2221-2720", 16, inRange(2221, 2720)},
		{"JCB", 16, inRange(3528, 3589)},
		{"UnionPay", 16, oneOf("62")},
		{"Discover", 16, oneOf("6011", "644", "645", "646", "647", "648", "649", "65")},
	}
	var fs []recallFormat
	c := func(name string, s cardScheme, write func(string) string) recallFormat {
		return recallFormat{name: name, gen: func(rng *rand.Rand) (string, string) {
			return "", write(luhnNumber(rng, s.prefix(rng), s.length))
		}}
	}
	// Korea's domestic-only cards, which every Korean issuer numbers from
	// 9 (BC 94xx, 국민, 신한, 삼성 ...).
	schemes16 = append(schemes16, cardScheme{"Korean domestic 9", 16, func(rng *rand.Rand) string { return "9" + randDigits(rng, 3) }})
	for _, s := range schemes16 {
		fs = append(fs,
			c(s.name+" 16 ungrouped", s, func(d string) string { return d }),
			c(s.name+" 4-4-4-4 '-'", s, func(d string) string { return group(d, "-", 4, 4, 4, 4) }),
			c(s.name+" 4-4-4-4 ' '", s, func(d string) string { return group(d, " ", 4, 4, 4, 4) }),
			c(s.name+" 4-4-4-4 ' - '", s, func(d string) string { return group(d, " - ", 4, 4, 4, 4) }),
			c(s.name+" 4-4-4-4 '–'", s, func(d string) string { return group(d, "–", 4, 4, 4, 4) }),
		)
	}
	amex := cardScheme{"Amex", 15, oneOf("34", "37")}
	diners := cardScheme{"Diners", 14, oneOf("300", "301", "302", "303", "304", "305", "36", "38", "39")}
	up19 := cardScheme{"UnionPay", 19, oneOf("62")}
	fs = append(fs,
		c("Amex 15 ungrouped", amex, func(d string) string { return d }),
		c("Amex 4-6-5 ' '", amex, func(d string) string { return group(d, " ", 4, 6, 5) }),
		c("Amex 4-6-5 '-'", amex, func(d string) string { return group(d, "-", 4, 6, 5) }),
		c("Diners 14 ungrouped", diners, func(d string) string { return d }),
		c("Diners 4-6-4 ' '", diners, func(d string) string { return group(d, " ", 4, 6, 4) }),
		c("UnionPay 19 ungrouped", up19, func(d string) string { return d }),
		c("UnionPay 4-4-4-4-3 ' '", up19, func(d string) string { return group(d, " ", 4, 4, 4, 4, 3) }),
	)
	// 13-digit Visa numbers are no longer issued but still accepted. About
	// one in a thousand is also a valid RRN, which takes precedence
	// (TestPrecedence) and counts as a miss here although it is redacted.
	fs = append(fs, c("Visa 13 ungrouped (legacy)", cardScheme{"Visa", 13, oneOf("4")}, func(d string) string { return d }))
	dots := c("Visa 4-4-4-4 '.'", schemes16[0], func(d string) string { return group(d, ".", 4, 4, 4, 4) })
	dots.outOfScope = "refused on purpose (TestCard): dotted groups are versions and serials"
	return append(fs, dots)
}

// ---- Account ----

// bankLayout is a bank and one of its hyphenated account layouts.
type bankLayout struct {
	bank  string
	sizes []int
}

func accountFormats() []recallFormat {
	layouts := []bankLayout{
		{"국민은행", []int{6, 2, 6}}, {"신한은행", []int{3, 3, 6}}, {"우리은행", []int{4, 3, 6}},
		{"하나은행", []int{3, 6, 5}}, {"농협", []int{3, 4, 4, 2}}, {"기업은행", []int{3, 6, 2, 3}},
		{"카카오뱅크", []int{4, 2, 7}}, {"토스뱅크", []int{4, 4, 4}}, {"SC제일은행", []int{3, 2, 6}},
		{"씨티은행", []int{3, 6, 3}}, {"새마을금고", []int{4, 4, 4, 1}}, {"우체국", []int{6, 2, 6}},
		{"케이뱅크", []int{3, 3, 6}}, {"국민", []int{3, 2, 4, 3}},
	}
	var fs []recallFormat
	for _, l := range layouts {
		total := 0
		name := l.bank + " "
		for i, n := range l.sizes {
			total += n
			if i > 0 {
				name += "-"
			}
			name += strconv.Itoa(n)
		}
		fs = append(fs, recallFormat{name: name, gen: func(rng *rand.Rand) (string, string) {
			d := strconv.Itoa(1+rng.IntN(9)) + randDigits(rng, total-1)
			return l.bank + pick(rng, []string{" ", " 계좌 ", ": "}), group(d, "-", l.sizes...)
		}})
	}
	return fs
}

// ---- IP ----

func ipFormats() []recallFormat {
	v4 := func(rng *rand.Rand) string {
		for {
			a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
			if s := a.String(); len(s) > 7 { // four single digits are refused on purpose
				return s
			}
		}
	}
	v6 := func(rng *rand.Rand, prefix uint16) netip.Addr {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		b[0], b[1] = byte(prefix>>8), byte(prefix)
		// Zero a run of groups so that the text form compresses it.
		if z := rng.IntN(5); z > 0 {
			at := 1 + rng.IntN(7-z+1)
			for g := at; g < at+z && g < 8; g++ {
				b[2*g], b[2*g+1] = 0, 0
			}
		}
		return netip.AddrFrom16(b)
	}
	f := func(name string, gen func(rng *rand.Rand) string) recallFormat {
		return recallFormat{name: name, gen: func(rng *rand.Rand) (string, string) { return "", gen(rng) }}
	}
	return []recallFormat{
		f("IPv4 203.0.113.7", v4),
		f("IPv6 2001:db8::8a2e:370:7334 (compressed)", func(rng *rand.Rand) string {
			return v6(rng, uint16(0x2001+rng.IntN(0x3ff))).String()
		}),
		f("IPv6 fe80::1ff:fe23:4567:890a (link-local)", func(rng *rand.Rand) string { return v6(rng, 0xfe80).String() }),
		f("IPv6 full 2001:0db8:0000:...", func(rng *rand.Rand) string {
			return v6(rng, uint16(0x2001+rng.IntN(0x3ff))).StringExpanded()
		}),
	}
}

// ---- Address ----

func addressFormats() []recallFormat {
	admins := []string{
		"서울특별시 강남구 ", "서울 마포구 ", "경기도 성남시 분당구 ", "부산광역시 해운대구 ", "대전광역시 유성구 ",
		"인천 남동구 ", "경기도 수원시 영통구 ", "제주특별자치도 서귀포시 ", "강원도 춘천시 ", "광주광역시 북구 ",
	}
	roads := []string{"테헤란로", "판교역로", "중앙로", "올림픽로", "해운대해변로", "월드컵북로", "동일로", "대학로", "번영로", "은행나무길"}
	daero := []string{"세종대로", "강남대로", "반포대로", "한누리대로", "도산대로", "영동대로", "동작대로"}
	dongs := []string{"역삼동", "방배동", "서교동", "우동", "봉명동", "공흥리", "연동", "역삼1동"}
	num := func(rng *rand.Rand) string {
		n := strconv.Itoa(1 + rng.IntN(999))
		if rng.IntN(3) == 0 {
			n += "-" + strconv.Itoa(1+rng.IntN(99))
		}
		return n
	}
	unit := func(rng *rand.Rand) string {
		return pick(rng, []string{", ", " "}) + strconv.Itoa(101+rng.IntN(10)) + "동 " + strconv.Itoa(1+rng.IntN(25)) + "0" + strconv.Itoa(1+rng.IntN(4)) + "호"
	}
	a := func(name string, gen func(rng *rand.Rand) (string, string)) recallFormat {
		return recallFormat{name: name, gen: gen}
	}
	return []recallFormat{
		a("시/구 + 로 N[-M]", func(rng *rand.Rand) (string, string) { return pick(rng, admins), pick(rng, roads) + " " + num(rng) }),
		a("대로 N[-M] (no 시/구)", func(rng *rand.Rand) (string, string) { return "", pick(rng, daero) + " " + num(rng) }),
		a("로N길 N (side street)", func(rng *rand.Rand) (string, string) {
			return "", pick(rng, roads) + strconv.Itoa(1+rng.IntN(99)) + pick(rng, []string{"길", "번길"}) + " " + num(rng)
		}),
		a("로 N번길 N (spaced side street)", func(rng *rand.Rand) (string, string) {
			return "", pick(rng, roads) + " " + strconv.Itoa(1+rng.IntN(99)) + pick(rng, []string{"길", "번길"}) + " " + num(rng)
		}),
		a("시/구 + 동 N-M (lot)", func(rng *rand.Rand) (string, string) {
			return pick(rng, admins), pick(rng, dongs) + " " + strconv.Itoa(1+rng.IntN(999)) + "-" + strconv.Itoa(1+rng.IntN(99))
		}),
		a("동 N번지", func(rng *rand.Rand) (string, string) { return "", pick(rng, dongs) + " " + num(rng) + "번지" }),
		a("시/구 + 로 N, 101동 1202호", func(rng *rand.Rand) (string, string) {
			return pick(rng, admins), pick(rng, roads) + " " + num(rng) + unit(rng)
		}),
	}
}
