package pii

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestNumbersThatAreNotPII generates the numbers text is full of (dates
// and date ranges, times, prices, versions, ISBNs, scores, counts, order
// and tracking numbers), written with every separator the scanners now
// accept (spaced hyphens, Unicode dashes, spaces), and requires that none
// is taken for personal information.
func TestNumbersThatAreNotPII(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	dash := func() string { return pick(rng, []string{"-", " - ", "–", " – ", "—", "－", " -", "- "}) }
	year := func() int { return 1950 + rng.IntN(80) }
	date := func() string {
		y, m, d := year(), 1+rng.IntN(12), 1+rng.IntN(28)
		switch rng.IntN(5) {
		case 0:
			s := dash()
			return fmt.Sprintf("%d%s%02d%s%02d", y, s, m, s, d)
		case 1:
			return fmt.Sprintf("%d.%02d.%02d", y, m, d)
		case 2:
			return fmt.Sprintf("%d%02d%02d", y, m, d)
		case 3:
			return fmt.Sprintf("%02d.%02d.%02d", y%100, m, d)
		}
		return fmt.Sprintf("%d년 %d월 %d일", y, m, d)
	}
	isbn13 := func() string {
		d := []byte("97" + pick(rng, []string{"8", "9"}) + "89" + randDigits(rng, 7))
		sum := 0
		for i, c := range d {
			w := 1
			if i%2 == 1 {
				w = 3
			}
			sum += int(c-'0') * w
		}
		d = append(d, byte('0'+(10-sum%10)%10))
		s := dash()
		return string(d[:3]) + s + string(d[3:5]) + s + string(d[5:9]) + s + string(d[9:12]) + s + string(d[12:])
	}
	price := func() string {
		n := 1000 * (1 + rng.IntN(99999))
		s := fmt.Sprint(n)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return pick(rng, []string{"", "₩", "$"}) + b.String() + pick(rng, []string{"원", " 원", "", ".00"})
	}
	gens := map[string]func() string{
		"date":       date,
		"date range": func() string { return date() + pick(rng, []string{" ~ ", " - ", "–", " – "}) + date() },
		"year range": func() string { y := year(); return fmt.Sprintf("%d%s%d", y, dash(), y+1+rng.IntN(30)) },
		"time range": func() string {
			return fmt.Sprintf("%02d:%02d%s%02d:%02d", rng.IntN(24), rng.IntN(60), dash(), rng.IntN(24), rng.IntN(60))
		},
		"timestamp": func() string {
			return fmt.Sprintf("%d-%02d-%02d %02d:%02d:%02d", year(), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
		},
		"price":       price,
		"price range": func() string { return price() + dash() + price() },
		"version": func() string {
			return fmt.Sprintf("v%d.%d.%d%s", rng.IntN(20), rng.IntN(40), rng.IntN(300), pick(rng, []string{"", "-rc1", "-beta.2", " - v2.0.0"}))
		},
		"isbn-13": isbn13,
		"score":   func() string { return fmt.Sprintf("%d%s%d", rng.IntN(120), dash(), rng.IntN(120)) },
		"count": func() string {
			return pick(rng, []string{"조회수 ", "추천 ", "관객 "}) + fmt.Sprint(rng.IntN(100000000))
		},
		"order no.": func() string {
			return "주문번호 " + fmt.Sprintf("%d%02d%02d", year(), 1+rng.IntN(12), 1+rng.IntN(28)) + dash() + randDigits(rng, 6)
		},
		"tracking": func() string {
			return "운송장 " + randDigits(rng, 4) + dash() + randDigits(rng, 4) + dash() + randDigits(rng, 4)
		},
		"rep. phone": func() string {
			return pick(rng, []string{"1588", "1544", "1577", "1644"}) + dash() + randDigits(rng, 4)
		},
		"page range": func() string { return fmt.Sprintf("pp. %d%s%d", 1+rng.IntN(500), dash(), 501+rng.IntN(500)) },
		"dimensions": func() string {
			return fmt.Sprintf("%d x %d x %d mm", 10+rng.IntN(2000), 10+rng.IntN(2000), 10+rng.IntN(2000))
		},
	}
	r := New(Options{})
	const perKind = 2000
	total := 0
	// Sorted, so that the one generator draws the same numbers every run.
	names := make([]string, 0, len(gens))
	for name := range gens {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		gen := gens[name]
		hits := 0
		for range perKind {
			text := gen()
			if rng.IntN(2) == 0 {
				text = pick(rng, []string{"기간: ", "가격은 ", "", "(", "released "}) + text + pick(rng, []string{"", " 입니다", ")", "."})
			}
			for _, m := range r.Find(text) {
				hits++
				if hits <= 3 {
					t.Errorf("%s: %s found in %q: %q", name, m.Kind, text, text[m.Start:m.End])
				}
			}
		}
		total += hits
		t.Logf("%-12s %d of %d flagged", name, hits, perKind)
	}
	if total > 0 {
		t.Errorf("%d of %d numbers that are not personal information were flagged", total, perKind*len(gens))
	}
}
