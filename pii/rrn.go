package pii

import "time"

// rrnContext are the words that, within rrnContextRunes before a number,
// vouch for an RRN without a valid checksum (numbers issued since October
// 2020 end in random digits). A bare "등록번호" is not one: 법인등록번호
// (company numbers) have the same shape and are not personal.
var rrnContext = newContextWords(
	"주민등록", "주민번호", "주민 번호", "외국인등록", "외국인 등록", "외국인번호",
	"rrn", "resident registration", "resident number",
)

// thisYear bounds birth years: a number born in the future is something
// else (an EAN-13 barcode 880… reads as born in 2088).
var thisYear = time.Now().Year()

const rrnContextRunes = 15

// findRRNs finds YYMMDD-GXXXXXX (the dash may be any dash, with a space
// on either side), the same 13 digits bare, and YYMMDD GXXXXXX with a
// space when the check digit holds.
func findRRNs(s string, dst []Match) []Match {
	return findRuns(s, RRN, dst, rrnAt)
}

// rrnAt returns the end of an RRN starting at i, or -1.
func rrnAt(s string, i int) int {
	if gluedLeft(s, i, "-.") {
		return -1
	}
	g, ok := parseGroupsWide(s, i, "- ", true)
	if !ok {
		return -1
	}
	var end int
	dashed := false
	switch {
	case g.end[0]-i == 13 && (g.n == 1 || g.loose()):
		end = g.end[0] // bare, maybe followed by a space and another number
	case g.sep == '-' && (g.n == 2 || g.spaced) && g.lens(2) == 67:
		// Joined by a spaced dash, it may be followed by another number.
		end, dashed = g.end[1], true
	case g.n >= 2 && g.sep == ' ' && g.lens(2) == 67:
		end = g.end[1]
	default:
		return -1
	}
	if gluedRight(s, end, "-.") || inV6Run(s, i, end) {
		return -1
	}
	var buf [13]byte
	k := 2
	if end == g.end[0] {
		k = 1
	}
	d := g.digits(s, k, buf[:0])
	if !rrnDateOK(d) {
		return -1
	}
	if rrnChecksumOK(d) {
		return end
	}
	if dashed && rrnContext.before(s, i, rrnContextRunes) {
		return end
	}
	return -1
}

// rrnDateOK checks the birth date against the century given by the
// gender digit: 1,2 (and 5,6 for foreigners) 1900s; 3,4 (7,8) 2000s.
// 9 and 0 (born before 1900) are refused: nobody alive has them, and
// refusing them removes a tenth of the chance matches. Birth years after
// this year are refused.
func rrnDateOK(d []byte) bool {
	year := int(d[0]-'0')*10 + int(d[1]-'0')
	month := int(d[2]-'0')*10 + int(d[3]-'0')
	day := int(d[4]-'0')*10 + int(d[5]-'0')
	switch d[6] {
	case '1', '2', '5', '6':
		year += 1900
	case '3', '4', '7', '8':
		year += 2000
	default:
		return false
	}
	return year <= thisYear && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month)
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// rrnChecksumOK checks the last digit. Citizens: (11 - sum%11) % 10 with
// weights 2..9,2..5. Foreigner numbers (gender digit 5-8) were also issued
// under a variant that adds 2 (mod 10), with an even registration-office
// code in digits 8-9 and a type digit of 6-9 in position 12; either is
// accepted for them.
func rrnChecksumOK(d []byte) bool {
	weights := [12]int{2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5}
	sum := 0
	for k, w := range weights {
		sum += int(d[k]-'0') * w
	}
	check := (11 - sum%11) % 10
	last := int(d[12] - '0')
	if check == last {
		return true
	}
	if d[6] < '5' || d[6] > '8' {
		return false
	}
	office := int(d[7]-'0')*10 + int(d[8]-'0')
	return office%2 == 0 && d[11] >= '6' && (check+2)%10 == last
}
