package pii

import "strings"

// findPhones finds Korean phone numbers:
//
//   - mobile 010 (4+4 digits) and 011, 016-019 (3 or 4 + 4), with "-", "."
//     or " " between the groups (the same one twice) or none at all;
//   - landlines 02 and the area codes 031-033, 041-044, 051-055, 061-064,
//     and VoIP 070, with separators only (ten bare digits starting with 0
//     are too often something else); the exchange part may not begin
//     with 0; the area code may be in parentheses or closed by ")";
//   - international forms: +82 or (+82), an optional separator and "(0)",
//     then the national number with or without its leading 0.
//
// Service numbers (1588-xxxx, 1544-xxxx, 080) and anything joined to more
// digits by "-" or "." are left alone.
func findPhones(s string, dst []Match) []Match {
	last := 0
	for i := nextRun(s, 0); i >= 0; {
		next := i + 1
		// Every form has its first run of digits at most two bytes in:
		// "(+82)", "+82", "(02)", "010".
		for st := max(i-2, last); st <= i; st++ {
			c := s[st]
			if !(st == i && c == '0' || st == i-1 && (c == '+' || c == '(') || st == i-2 && c == '(' && s[i-1] == '+') {
				continue
			}
			if end := phoneAt(s, st); end > 0 {
				dst = append(dst, Match{Phone, st, end})
				last, next = end, end
				break
			}
		}
		i = nextRun(s, next)
	}
	return dst
}

// phoneAt returns the end of a phone number starting at i, or -1.
func phoneAt(s string, i int) int {
	var end int
	switch {
	case strings.HasPrefix(s[i:], "+82"):
		// "+" starts a token whatever stands before it.
		end = intlAt(s, i+3)
	case strings.HasPrefix(s[i:], "(+82)"):
		j := i + 5
		if j < len(s) && s[j] == ' ' {
			j++
		}
		end = nationalAt(s, j)
	case s[i] == '(':
		end = domesticAt(s, i+1, true)
	default:
		if gluedLeft(s, i, "-.") {
			return -1
		}
		end = domesticAt(s, i, false)
	}
	if end < 0 || gluedRight(s, end, "-.") || inV6Run(s, i, end) {
		return -1
	}
	return end
}

// intlAt reads what follows "+82": a separator, "(0)", the national number.
func intlAt(s string, j int) int {
	if j < len(s) && (s[j] == '-' || s[j] == ' ' || s[j] == '.') {
		j++
	}
	if strings.HasPrefix(s[j:], "(0)") {
		j += 3
		if j < len(s) && (s[j] == '-' || s[j] == ' ') {
			j++
		}
	}
	return nationalAt(s, j)
}

// nationalAt reads a national number after a country code, with or
// without its leading 0.
func nationalAt(s string, j int) int {
	if j >= len(s) || !isDigit(s[j]) {
		return -1
	}
	zero := s[j] == '0'
	g, ok := parseGroupsWide(s, j, "-. ", true)
	if !ok {
		return -1
	}
	if g.n == 1 || g.loose() && g.end[0]-g.start[0] >= 9 {
		// All digits in one run: "+821012345678".
		run := s[g.start[0]:g.end[0]]
		if zero {
			run = run[1:]
		}
		if bareNationalOK(run) {
			return g.end[0]
		}
		return -1
	}
	if g.n < 3 || (g.n > 3 && !g.loose()) {
		return -1
	}
	area := s[g.start[0]:g.end[0]]
	if !zero {
		area = "0" + area
	}
	if !groupsOK(area, s[g.start[1]:g.end[1]], g.end[2]-g.start[2]) {
		return -1
	}
	return g.end[2]
}

// bareNationalOK checks a national number without its leading 0 and
// without separators, as written after +82.
func bareNationalOK(n string) bool {
	if len(n) < 9 || len(n) > 10 {
		return false
	}
	switch {
	case n[:2] == "10", n[:2] == "70":
		return len(n) == 10
	case n[0] == '1':
		return strings.IndexByte("16789", n[1]) >= 0
	case n[0] == '2':
		return n[1] != '0'
	}
	return areaCode("0"+n[:2]) && n[2] != '0'
}

// domesticAt reads a domestic number starting at j (just after "(" when
// paren is set).
func domesticAt(s string, j int, paren bool) int {
	if j >= len(s) || s[j] != '0' {
		return -1
	}
	a, ok := digitRun(s, j, 11)
	if !ok {
		return -1
	}
	area := s[j:a]
	if a < len(s) && s[a] == ')' && len(area) <= 3 {
		// "(02) 123-4567", "02)123-4567": the exchange and line follow.
		// A longer run before ")" is a whole number in parentheses
		// ("홍길동(01012345678)"), read below.
		k := a + 1
		if k < len(s) && s[k] == ' ' {
			k++
		}
		if k >= len(s) || !isDigit(s[k]) {
			return -1
		}
		g, ok := parseGroups(s, k, "-. ")
		if !ok || g.n < 2 || (g.n > 2 && g.sep != ' ') {
			return -1
		}
		if !groupsOK(area, s[g.start[0]:g.end[0]], g.end[1]-g.start[1]) {
			return -1
		}
		return g.end[1]
	}
	if paren {
		return -1
	}
	g, ok := parseGroupsWide(s, j, "-. ", true)
	if !ok {
		return -1
	}
	if g.n == 1 || (g.loose() && len(area) >= 10) {
		// No separators: mobile only.
		switch {
		case strings.HasPrefix(area, "010"):
			ok = len(area) == 11
		case len(area) >= 3 && area[:2] == "01" && strings.IndexByte("16789", area[2]) >= 0:
			ok = len(area) == 10 || len(area) == 11
		default:
			ok = false
		}
		if ok {
			return a
		}
		return -1
	}
	if g.n < 3 || (g.n > 3 && !g.loose()) {
		return -1
	}
	if !groupsOK(area, s[g.start[1]:g.end[1]], g.end[2]-g.start[2]) {
		return -1
	}
	return g.end[2]
}

// groupsOK checks an area or mobile prefix (with its 0), the middle group
// and the length of the last group.
func groupsOK(area, mid string, last int) bool {
	if last != 4 {
		return false
	}
	m := len(mid)
	switch {
	case area == "010", area == "070":
		return m == 4
	case len(area) == 3 && area[:2] == "01" && strings.IndexByte("16789", area[2]) >= 0:
		return m == 3 || m == 4
	case area == "02" || areaCode(area):
		return (m == 3 || m == 4) && mid[0] != '0'
	}
	return false
}

// areaCode reports whether a is a three-digit regional area code.
func areaCode(a string) bool {
	if len(a) != 3 || a[0] != '0' {
		return false
	}
	switch a[1] {
	case '3':
		return a[2] >= '1' && a[2] <= '3'
	case '4':
		return a[2] >= '1' && a[2] <= '4'
	case '5':
		return a[2] >= '1' && a[2] <= '5'
	case '6':
		return a[2] >= '1' && a[2] <= '4'
	}
	return false
}
