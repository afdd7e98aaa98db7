package pii

import (
	"net/netip"
	"strings"
)

// versionWords are words after which a dotted quad is a version number.
var versionWords = []string{"version", "ver.", "버전"}

// afterVersion reports whether a version word ends within three runes
// before i, separated by spaces or ":" only. The word must start a word
// (not "my.version" in an e-mail domain), so that redacting a neighbouring
// address cannot remove it.
func afterVersion(s string, i int) bool {
	j := i
	for n := 0; n < 3 && j > 0 && (s[j-1] == ' ' || s[j-1] == ':'); n++ {
		j--
	}
	var buf [16]byte
	lo := max(0, j-len("version"))
	win := string(lowerASCII(buf[:0], s[lo:j]))
	for _, w := range versionWords {
		if strings.HasSuffix(win, w) {
			k := j - len(w)
			return k == 0 || !(isWordByte(s[k-1]) || strings.IndexByte(".@-", s[k-1]) >= 0)
		}
	}
	return false
}

// findIPv4 finds dotted quads with octets 0-255 written without leading
// zeros, not part of a longer dotted number ("1.2.3.4.5") or word
// ("v1.2.3.4"), not just after "version"/"버전", and not four single
// digits.
func findIPv4(s string, dst []Match) []Match {
	return findRuns(s, IP, dst, ipv4At)
}

func ipv4At(s string, i int) int {
	if gluedLeft(s, i, "-.") {
		return -1
	}
	g, ok := parseGroups(s, i, ".")
	if !ok || g.n != 4 {
		return -1
	}
	end := g.end[3]
	if gluedRight(s, end, "-.") || inV6Run(s, i, end) {
		return -1
	}
	for k := 0; k < 4; k++ {
		o := s[g.start[k]:g.end[k]]
		if len(o) > 3 || (len(o) > 1 && o[0] == '0') {
			return -1
		}
		v := 0
		for t := 0; t < len(o); t++ {
			v = v*10 + int(o[t]-'0')
		}
		if v > 255 {
			return -1
		}
	}
	if end-i == 7 {
		// Four single digits are enumerations and orderings ("4.3.1.2.
		// 순으로", "1.2.3.5") far more often than addresses, and the few
		// such addresses (1.1.1.1, 8.8.8.8) are public resolvers.
		return -1
	}
	if afterVersion(s, i) {
		return -1
	}
	return end
}

func isV6Byte(c byte) bool {
	return isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'f') || c == ':' || c == '.'
}

// maxV6 is the longest textual IPv6 address (with an embedded IPv4).
const maxV6 = 45

// findIPv6 takes each maximal run of hex digits, colons and dots that holds
// at least two colons and a digit, trims punctuation that cannot end or
// begin an address, and keeps it if net/netip parses it as IPv6. Times
// ("12:30:45") and MAC addresses do not parse; C++ names ("std::map") fail
// because the run touches other letters.
func findIPv6(s string, dst []Match) []Match {
	pos := 0
	for pos < len(s) {
		k := strings.IndexByte(s[pos:], ':')
		if k < 0 {
			break
		}
		k += pos
		lo := k
		for lo > pos && k-lo <= maxV6 && isV6Byte(s[lo-1]) {
			lo--
		}
		hi := k
		for hi < len(s) && isV6Byte(s[hi]) {
			hi++
		}
		pos = hi
		if start, end, ok := ipv6Run(s, lo, hi); ok {
			dst = append(dst, Match{IP, start, end})
		}
	}
	return dst
}

// v6Substantial reports whether run has a group of three or more hex
// digits or four or more groups. Scores and ratios ("2::8", "3:2:1") and
// the loopback "::1", which identify nobody, fail; real addresses
// ("fe80::1", "2001:db8::7") pass.
func v6Substantial(run string) bool {
	groups, longest, cur := 0, 0, 0
	for i := 0; i <= len(run); i++ {
		if i == len(run) || run[i] == ':' {
			if cur > 0 {
				groups++
			}
			longest = max(longest, cur)
			cur = 0
			continue
		}
		cur++
	}
	return longest >= 3 || groups >= 4
}

// ipv6Run checks the run s[lo:hi] and returns the address within it.
func ipv6Run(s string, lo, hi int) (int, int, bool) {
	if hi-lo > maxV6+2 || (lo > 0 && isV6Byte(s[lo-1])) {
		return 0, 0, false // too long, or cut short by the look-back limit
	}
	for hi > lo && s[hi-1] == '.' {
		hi--
	}
	for lo < hi && s[lo] == '.' {
		lo++
	}
	// A lone colon before or after is punctuation ("IP:fe80::1"); "::" is
	// part of the address.
	if hi-lo >= 2 && s[hi-1] == ':' && s[hi-2] != ':' {
		hi--
	}
	if hi-lo >= 2 && s[lo] == ':' && s[lo+1] != ':' {
		lo++
	}
	// A letter or digit just outside makes it part of a word ("std::map",
	// "Foo::Bar::1234"). The kinds searched after IPv6 cannot end or begin
	// with that letter (addresses end in Hangul, IPv4 digits are inside the
	// run), so redacting a neighbour cannot change this.
	if lo > 0 && isWordByte(s[lo-1]) || hi < len(s) && isWordByte(s[hi]) ||
		gluedLeft(s, lo, "-.") || gluedRight(s, hi, "-.") {
		return 0, 0, false
	}
	run := s[lo:hi]
	if strings.Count(run, ":") < 2 || !strings.ContainsAny(run, "0123456789") || !v6Substantial(run) {
		return 0, 0, false
	}
	a, err := netip.ParseAddr(run)
	if err != nil || !a.Is6() {
		return 0, 0, false
	}
	return lo, hi, true
}
