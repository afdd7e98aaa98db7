package pii

import (
	"strings"
	"unicode/utf8"
)

// Korean addresses. What is redacted is the detailed part: the road name
// or dong/ri name, the building or lot number, a following 번지, and unit
// details right after (", 101동 1202호", " 3층"). Province, city and
// district words before it are kept ("서울특별시 중구 <|pii:address|>"):
// they identify nobody and keep the text useful for training.
//
// Shapes, with one or two spaces before the number:
//
//	road: <name>로|길 N[-M]        세종대로 110, 판교역로 235
//	      <name>로N[번]길 N[-M]    도산대로45길 15, 중앙로12번길 3
//	      <name>로 N[번]길 N[-M]   동일로 174길 27
//	lot:  <name>동|리 N[-M][번지]  역삼동 123-45, 공흥리 45-6, 역삼동 123번지
//	      <name>N가 N[-M]          종로1가 12
//
// "X로 N" is everywhere in Korean ("기차로 10분", "평점으로 10"), so the
// shape alone is not enough. One of these must also hold:
//
//   - an administrative word from adminnames.go stands just before the
//     name, possibly with up to two 읍/면/동/리/가 words between ("성남시 분당구 판교역로
//     235", "양평군 양평읍 양평로 12", "강남구 역삼동 123-45");
//   - the road name carries a numbered side street (…로45길, …로 12번길);
//   - a road name ends in 대로 after two or more syllables and is not an
//     adverb such as 마음대로 or 생각대로 ("세종대로 110-1");
//   - a lot number ends in 번지.
//
// The number must end the word: "세종대로 110번", "역삼동 12시", "3.5" and
// "12-3-4" are refused; Korean particles 에, 은, 는, 의, 을, 를, 으(로) and
// 로 (after a number read with a vowel or ㄹ last: "세종대로 110로") may
// follow.

// daeroAdverbs are words ending in 대로 ("as, according to") that are not
// road names.
var daeroAdverbs = strings.Fields(`
마음대로 생각대로 예상대로 순서대로 원래대로 계획대로 예정대로 약속대로 나름대로 그런대로 멋대로
소문대로 기대대로 규칙대로 원작대로 각본대로 공식대로 명령대로 지시대로 요구대로 사실대로 이름대로
내맘대로 제멋대로 제맘대로 니맘대로 지맘대로 말씀대로 본능대로 예고대로 관례대로 전통대로`)

// daeroVerbSuffix are endings of "verb + 대로" forms (하는대로, 본대로).
var daeroVerbSuffix = strings.Fields(`는대로 은대로 한대로 던대로 본대로 된대로 운대로 인대로 른대로 긴대로 낀대로 린대로 친대로 든대로 간대로 온대로 난대로 할대로 될대로 볼대로`)

// findAddresses looks at each number that follows a space and decides
// from the words before it whether it ends an address.
func findAddresses(s string, dst []Match) []Match {
	last := 0
	for i := nextRun(s, 0); i >= 0; i = nextRun(s, i+1) {
		if i == 0 || s[i] == '0' || s[i-1] != ' ' {
			continue
		}
		start, end := addressAt(s, i, last)
		if end > 0 {
			dst = append(dst, Match{Address, start, end})
			last = end
			i = end - 1
		}
	}
	return dst
}

// addressAt returns the address whose number starts at i, or end -1.
// Nothing before floor (the end of the previous address) is read: that
// text becomes a placeholder when redacted, and the decision must be the
// one a second pass would make.
func addressAt(s string, i, floor int) (int, int) {
	end, ok := digitRun(s, i, 4)
	if !ok {
		return 0, -1
	}
	if end+1 < len(s) && s[end] == '-' && s[end+1] >= '1' && s[end+1] <= '9' {
		if end, ok = digitRun(s, end+1, 4); !ok {
			return 0, -1
		}
	}
	bunji := strings.HasPrefix(s[end:], "번지")
	if bunji {
		end += len("번지")
	}
	if !addressEnds(s, end) || v6Colons(s, end, 1) >= 2 {
		// The second test: "역삼동 5678..2001:db8::1" is an IPv6-like run
		// that the number belongs to; redacting the number alone would
		// leave a valid address for a second pass to find.
		return 0, -1
	}

	// The name word ends before the spaces.
	wEnd := i - 1
	if wEnd > 0 && s[wEnd-1] == ' ' {
		wEnd--
	}
	wStart, ok := wordBefore(s, wEnd, floor)
	if !ok {
		return 0, -1
	}
	w := s[wStart:wEnd]
	r, _ := utf8.DecodeRuneInString(w)
	strong := false // shape alone is enough
	switch last, _ := utf8.DecodeLastRuneInString(w); {
	case isDigit(w[0]):
		// "174길" or "12번길": a side street of the road word before.
		if !sideStreet(w) || wStart < 2 || s[wStart-1] != ' ' {
			return 0, -1
		}
		rs, ok := wordBefore(s, wStart-1, floor)
		if !ok {
			return 0, -1
		}
		rw := s[rs : wStart-1]
		if rl, _ := utf8.DecodeLastRuneInString(rw); !isSyllable(firstRune(rw)) || (rl != '로' && rl != '길') || hasDigit(rw) {
			return 0, -1
		}
		wStart, strong = rs, true
	case !isSyllable(r):
		return 0, -1
	case last == '로' || last == '길':
		if k := strings.IndexAny(w, "0123456789"); k >= 0 {
			// "도산대로45길": road name, number, 길 or 번길.
			if !sideStreet(w[k:]) {
				return 0, -1
			}
			if pl, _ := utf8.DecodeLastRuneInString(w[:k]); pl != '로' && pl != '길' {
				return 0, -1
			}
			strong = true
		} else if utf8.RuneCountInString(w) < 2 {
			return 0, -1
		} else {
			strong = isDaero(w)
		}
	case last == '동' || last == '리':
		// "역삼동", "역삼1동", "공흥리"; digits only just before the suffix.
		body := strings.TrimRight(w[:len(w)-len("동")], "0123456789")
		if body == "" || hasDigit(body) || strings.HasSuffix(w, "거리") {
			// 거리 is "street" (캉봉거리, 명동거리), not a village (리).
			return 0, -1
		}
		strong = bunji
	case last == '가':
		// "종로1가"
		body := w[:len(w)-len("가")]
		trim := strings.TrimRight(body, "0123456789")
		if trim == body || trim == "" || hasDigit(trim) {
			return 0, -1
		}
		strong = bunji
	default:
		return 0, -1
	}
	if !strong && !adminBefore(s, wStart, floor) {
		return 0, -1
	}
	return wStart, unitDetails(s, end)
}

// wordBefore returns the start of the run of Hangul syllables and digits
// ending at end and starting at or after floor; ok is false if there is
// none or it is longer than 12 runes from its first syllable. Digits
// before that syllable are not part of the word ("0000세종대로" is
// 세종대로), unless the word is a numbered side street ("12번길"): they may
// be the end of another match, and the word must be the same whether or
// not that match has been redacted.
func wordBefore(s string, end, floor int) (int, bool) {
	i := end
	first := -1 // start of the leftmost syllable
	for n := 1; i > floor; n++ {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if isSyllable(r) {
			if n > 12 {
				return 0, false
			}
			first = i - size
		} else if !(r < utf8.RuneSelf && isDigit(byte(r))) {
			break
		}
		i -= size
	}
	if sideStreet(s[i:end]) {
		return i, true
	}
	return first, first >= 0
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// sideStreet reports whether w is digits followed by 길 or 번길.
func sideStreet(w string) bool {
	k := 0
	for k < len(w) && isDigit(w[k]) {
		k++
	}
	return k > 0 && k <= 4 && (w[k:] == "길" || w[k:] == "번길")
}

// isDaero reports whether w is a road name ending in 대로 ("세종대로") and not
// an adverb ("마음대로", "하는대로").
func isDaero(w string) bool {
	if !strings.HasSuffix(w, "대로") || utf8.RuneCountInString(w) < 4 {
		return false
	}
	for _, a := range daeroAdverbs {
		if strings.HasSuffix(w, a) {
			return false
		}
	}
	for _, a := range daeroVerbSuffix {
		if strings.HasSuffix(w, a) {
			return false
		}
	}
	return true
}

// addressEnds reports whether a building or lot number may end at i.
func addressEnds(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	c := s[i]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		return true
	case c == ',' || c == '.':
		return i+1 >= len(s) || !isDigit(s[i+1])
	case strings.IndexByte(`)(]["';:!?~`, c) >= 0:
		return true
	case c < utf8.RuneSelf, dashAt(s, i) > 0: // a Unicode dash is a "-"
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	if isSyllable(r) {
		return strings.ContainsRune("에은는의을를으로", r)
	}
	return r != utf8.RuneError
}

// unitDetails extends an address ending at end over up to three unit
// words of digits and 동, 층 or 호 (", 101동 1202호", " 3층").
func unitDetails(s string, end int) int {
	for n := 0; n < 3; n++ {
		p := end
		if p < len(s) && s[p] == ',' {
			p++
		}
		if p < len(s) && s[p] == ' ' {
			p++
		}
		if p == end {
			break
		}
		q, ok := digitRun(s, p, 5)
		if !ok {
			break
		}
		r, size := utf8.DecodeRuneInString(s[q:])
		if r != '동' && r != '층' && r != '호' {
			break
		}
		q += size
		if q < len(s) && isWordByte(s[q]) {
			break
		}
		end = q
	}
	return end
}

// adminBefore reports whether an administrative word stands before the
// name word starting at i, with at most two 읍/면/동/리/가 words between.
func adminBefore(s string, i, floor int) bool {
	for n := 0; n < 3; n++ {
		if i < 2 || s[i-1] != ' ' {
			return false
		}
		end := i - 1
		if s[end-1] == ' ' {
			end--
		}
		if end <= floor {
			return false
		}
		start, ok := wordBefore(s, end, floor)
		if !ok {
			return false
		}
		w := s[start:end]
		if adminWords[w] {
			return true
		}
		last, _ := utf8.DecodeLastRuneInString(w)
		if !isSyllable(firstRune(w)) || !strings.ContainsRune("읍면동리가", last) || utf8.RuneCountInString(w) < 2 {
			return false
		}
		i = start
	}
	return false
}
