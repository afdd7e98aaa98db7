package pii

// cardLayouts are the accepted ways to group a card number, packed as in
// groups.lens: 4-4-4-4 and 4-4-4-4-3 (most schemes), 4-6-5 (Amex),
// 4-6-4 (Diners), joined by spaces or by dashes (any dash, spaced or not).
// A single group of 13-19 digits is also accepted.
var cardLayouts = []int{44443, 4444, 465, 464}

// findCards finds Luhn-valid card numbers with a known scheme prefix and a
// length that scheme issues.
func findCards(s string, dst []Match) []Match {
	return findRuns(s, Card, dst, cardAt)
}

func cardAt(s string, i int) int {
	end := cardEnd(s, i)
	if end > 0 && inV6Run(s, i, end) {
		return -1
	}
	return end
}

func cardEnd(s string, i int) int {
	if gluedLeft(s, i, "-.") {
		return -1
	}
	g, ok := parseGroupsWide(s, i, "- ", true)
	if !ok {
		return -1
	}
	var buf [20]byte
	if n := g.end[0] - i; n >= 13 {
		// One run of digits; a space (or a spaced dash) may separate it
		// from the next number.
		if n > 19 || (g.n > 1 && !g.loose()) || gluedRight(s, g.end[0], "-.") {
			return -1
		}
		if cardValid(g.digits(s, 1, buf[:0])) {
			return g.end[0]
		}
		return -1
	}
	for _, layout := range cardLayouts {
		k := 0
		for v := layout; v > 0; v /= 10 {
			k++
		}
		// Joined loosely (spaces, spaced dashes), a card may be followed
		// by another number; joined tightly the groups must be all there is.
		if k > g.n || (k < g.n && !g.loose()) || g.lens(k) != layout {
			continue
		}
		end := g.end[k-1]
		if gluedRight(s, end, "-.") {
			continue
		}
		if cardValid(g.digits(s, k, buf[:0])) {
			return end
		}
	}
	return -1
}

// cardValid checks the scheme, length, Luhn digit, and refuses numbers of
// one repeated digit (0000..., which pass Luhn).
func cardValid(d []byte) bool {
	if !cardSchemeOK(d) {
		return false
	}
	same := true
	for _, c := range d {
		same = same && c == d[0]
	}
	return !same && luhnOK(d)
}

// cardSchemeOK checks the issuer prefix (IIN) and the lengths that scheme
// issues: Visa 4; Mastercard 51-55, 2221-2720; Amex 34, 37; JCB 3528-3589;
// UnionPay 62; Discover 6011, 644-649, 65; Diners 300-305, 36, 38-39; and
// Korea's domestic-only cards, which every Korean issuer numbers from 9
// (ISO 7812's national-use range), 16 digits.
func cardSchemeOK(d []byte) bool {
	n := len(d)
	p := 0
	var pre [4]int // pre[k] is the first k+1 digits as a number
	for k := 0; k < 4; k++ {
		p = p*10 + int(d[k]-'0')
		pre[k] = p
	}
	p2, p3, p4 := pre[1], pre[2], pre[3]
	switch {
	case d[0] == '4':
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return n == 16
	case p2 == 34 || p2 == 37:
		return n == 15
	case p4 >= 3528 && p4 <= 3589:
		return n >= 16 && n <= 19
	case p2 == 62, p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649:
		return n >= 16 && n <= 19
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39:
		return n >= 14 && n <= 19
	case d[0] == '9':
		return n == 16
	}
	return false
}

// luhnOK checks the Luhn (mod 10) check digit.
func luhnOK(d []byte) bool {
	sum := 0
	double := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
