package pii

import (
	"slices"
	"testing"
)

// kindCase is a text and the substrings one kind should find in it, in
// order; an empty want is a negative case.
type kindCase struct {
	text string
	want []string
}

// runKindCases checks cases against a Redactor that finds only kind.
func runKindCases(t *testing.T, kind Kind, cases []kindCase) {
	t.Helper()
	r := New(Options{Kinds: []Kind{kind}})
	pos, neg := 0, 0
	for _, c := range cases {
		var got []string
		for _, m := range r.Find(c.text) {
			if m.Kind != kind {
				t.Errorf("%q: kind %s from a %s-only redactor", c.text, m.Kind, kind)
			}
			got = append(got, c.text[m.Start:m.End])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s in %q: got %q, want %q", kind, c.text, got, c.want)
		}
		if len(c.want) > 0 {
			pos++
		} else {
			neg++
		}
	}
	// The brief for each kind: at least 15 positive and 15 negative cases.
	if pos < 15 || neg < 15 {
		t.Errorf("%s: %d positive and %d negative cases; want at least 15 of each", kind, pos, neg)
	}
}

func one(s string) []string { return []string{s} }

func TestRRN(t *testing.T) {
	runKindCases(t, RRN, []kindCase{
		// Valid checksum: found with or without hyphen, with or without context.
		{"주민등록번호: 900101-1234568", one("900101-1234568")},
		{"900101-1234568", one("900101-1234568")},
		{"9001011234568", one("9001011234568")},
		{"Her number is 050505-4123456.", one("050505-4123456")},
		{"번호는900101-1234568입니다", one("900101-1234568")},
		{"(000229-3123454) 윤년생", one("000229-3123454")},
		{"first 991231-1987655, second 020202-3012345", []string{"991231-1987655", "020202-3012345"}},
		{"외국인 750315-5123450 입니다", one("750315-5123450")},
		// Foreigner numbers under the +2 variant (even office code, type 6-9).
		{"외국인등록증 8807076124670", one("8807076124670")},
		{"790101-5124687", one("790101-5124687")},
		// No valid checksum (issued since October 2020): needs context and hyphen.
		{"주민번호 210315-3829107", one("210315-3829107")},
		{"주민등록번호는 850612-2345678 입니다", one("850612-2345678")},
		{"RRN: 620815-1543210", one("620815-1543210")},
		{"resident registration no. 771120-2876540", one("771120-2876540")},
		{"외국인등록번호: 880707-5123469", one("880707-5123469")},
		{"주민 번호 930708-1864209", one("930708-1864209")},
		// Dashes as people type them: spaced, Unicode, full-width; a space.
		{"900101 - 1234568", one("900101 - 1234568")},
		{"주민번호 900101 -1234568 입니다", one("900101 -1234568")},
		{"900101- 1234568", one("900101- 1234568")},
		{"900101 – 1234568", one("900101 – 1234568")},
		{"900101—1234568", one("900101—1234568")},
		{"900101－1234568", one("900101－1234568")},
		{"주민번호 210315 - 3829107", one("210315 - 3829107")},
		{"주민등록번호 900101 1234568 입니다", one("900101 1234568")},
		{"850612 2345673, 010", one("850612 2345673")},
		{"9001011234568 4.44 만들기", one("9001011234568")},

		// Negatives.
		{"901301-1234565", nil},      // month 13, checksum valid
		{"900231-1234567", nil},      // 31 February, checksum valid
		{"010229-3123451", nil},      // 2001 was not a leap year, checksum valid
		{"900101-9234560", nil},      // gender digit 9, checksum valid
		{"주민번호 900101-0234560", nil}, // gender digit 0
		{"900101-1234567", nil},      // bad checksum, no context
		{"주민번호 9001011234567", nil},  // bad checksum, context, no hyphen
		{"주민등록번호를 절대 남에게 알려주면 안 됩니다 정말로요 850612-2345678", nil}, // context too far
		{"850612-2345678 이게 주민번호", nil},                        // context after, not before
		{"19900101-1234568", nil},                          // inside a longer run
		{"900101-12345680", nil},                           // eight digits after the hyphen
		{"ID900101-1234568", nil},                          // glued to a word
		{"12-900101-1234568", nil},                         // part of a serial number
		{"2024-01-15", nil},                                // a date
		{"900101.1234568", nil},                            // wrong separator
		{"ISBN 9788912345678", nil},                        // ISBN-13: month 89
		{"900101 1234567", nil},                            // a space and a bad checksum
		{"주민번호 210315 3829107", nil},                       // a space needs the checksum, even after a cue
		{"900101  -  1234568", nil},                        // two spaces: two numbers
		{"900101 -- 1234568", nil},                         // a double dash
		{"2024 - 01 - 15", nil},                            // a date, spaced
		{"1990 – 2020", nil},                               // a range of years
		{"900101 - 1234568 - 12", one("900101 - 1234568")}, // spaced: the next number is another token
		{"900101-1234568-12", nil},                         // more dashed groups
		{"주문번호 240115-1234567", nil},                       // order number: date-shaped, bad checksum
		{"900101-123456", nil},                             // too short
		{"법인등록번호 110111-1234567", nil},                     // company number, bad checksum
		{"바코드 8801234567890", nil},                         // EAN-13, checksum valid, "born" 2088
		{"300101-3123455", nil},                            // born 2030, checksum valid
		{"880707-6134678", nil},                            // foreigner +2 variant, odd office code
		{"880707-6124339", nil},                            // foreigner +2 variant, type digit 3
	})
}

func TestPhone(t *testing.T) {
	runKindCases(t, Phone, []kindCase{
		{"010-1234-5678", one("010-1234-5678")},
		{"01012345678", one("01012345678")},
		{"010 1234 5678", one("010 1234 5678")},
		{"010.1234.5678", one("010.1234.5678")},
		{"연락처:010-1234-5678입니다", one("010-1234-5678")},
		{"Call me at 010-9876-5432.", one("010-9876-5432")},
		{"011-123-4567", one("011-123-4567")},
		{"0111234567", one("0111234567")},
		{"02-123-4567", one("02-123-4567")},
		{"서울 02-1234-5678", one("02-1234-5678")},
		{"tel 051-123-4567, fax 051-123-4568", []string{"051-123-4567", "051-123-4568"}},
		{"제주 064-712-3456", one("064-712-3456")},
		{"인터넷전화 070-1234-5678", one("070-1234-5678")},
		{"(02) 123-4567", one("(02) 123-4567")},
		{"(031)1234-5678", one("(031)1234-5678")},
		{"문의 02)123-4567", one("02)123-4567")},
		{"+82-10-1234-5678", one("+82-10-1234-5678")},
		{"+82 10 1234 5678", one("+82 10 1234 5678")},
		{"+821012345678", one("+821012345678")},
		{"(+82) 2-123-4567", one("(+82) 2-123-4567")},
		{"+82 (0)10-1234-5678", one("+82 (0)10-1234-5678")},
		{"+82-010-1234-5678", one("+82-010-1234-5678")},
		{"전화 010 1234 5678 2번 누르세요", one("010 1234 5678")},
		{"홍길동(01012345678)", one("01012345678")}, // a bare number in parentheses
		{"(0111234567) 문자", one("0111234567")},
		{"010 - 1234 - 5678", one("010 - 1234 - 5678")},
		{"연락처 02 – 123 – 4567", one("02 – 123 – 4567")},
		{"+82 10 - 1234 - 5678", one("+82 10 - 1234 - 5678")},

		{"대표번호 1588-1234", nil},         // representative number
		{"1544 1234", nil},              // representative number
		{"수신자부담 080-123-4567", nil},     // toll-free, not personal
		{"2024-01-15", nil},             // date
		{"02-12-2024", nil},             // date
		{"v0.10.1234", nil},             // version
		{"010-1234-56789", nil},         // last group too long
		{"010-1234-5678-9", nil},        // more groups
		{"12010-1234-5678", nil},        // inside a longer run
		{"1-010-1234-5678", nil},        // part of a serial number
		{"010-123-4567", nil},           // 010 has four-digit middles
		{"02-023-4567", nil},            // exchange starting with 0
		{"039-123-4567", nil},           // no such area code
		{"0212345678", nil},             // landline without separators
		{"010-1234.5678", nil},          // mixed separators
		{"+83 10 1234 5678", nil},       // another country
		{"주문번호 01012345678901", nil},    // order number
		{"ISBN 978-89-1234-567-8", nil}, // ISBN
		{"010 12 34 5678", nil},         // wrong grouping
		{"1,234,567원", nil},             // price
		{"3번 출구", nil},                  // directions
		{"abc01012345678", nil},         // glued to a word
		{"010.1234.5678.9", nil},        // dotted number
		{"1010101010101010", nil},       // keyboard mash
		{"0101234567", nil},             // ten digits for 010
		{"2005년 2008년 2012년에 개봉", nil},  // years
		{"(02) 023-4567", nil},          // exchange starting with 0
		{"(010)123-4567", nil},          // 010 has four-digit middles
		{"+82 10 1234 567", nil},        // short last group
		{"+82101234567", nil},           // nine digits after +82 10
		{"080-1234-5678", nil},          // toll-free
		{"(0212345678)", nil},           // bare landline, also in parentheses
		{"(01012345)", nil},             // too short for a mobile number
		{"2019 - 2020 - 2021", nil},     // years
		{"1588 - 1234", nil},            // representative number, spaced
		{"010 - 1234 5678", nil},        // mixed separators
	})
}

func TestEmail(t *testing.T) {
	runKindCases(t, Email, []kindCase{
		{"hong@naver.com", one("hong@naver.com")},
		{"메일은 gildong.hong@example.co.kr 입니다", one("gildong.hong@example.co.kr")},
		{"abc@naver.com으로 보내주세요", one("abc@naver.com")},
		{"이메일:abc_123@daum.net.", one("abc_123@daum.net")},
		{"Contact: first.last+tag@mail.example.org", one("first.last+tag@mail.example.org")},
		{"<user@korea.ac.kr>", one("user@korea.ac.kr")},
		{"보내주세요abc@hanmail.net감사합니다", one("abc@hanmail.net")},
		{"a@b.com.그리고", one("a@b.com")},
		{"user%test@sub-domain.example.com", one("user%test@sub-domain.example.com")},
		{"x@xn--3e0b707e.kr", one("x@xn--3e0b707e.kr")},
		{"x@한국.kr", one("x@한국.kr")},
		{"0114868595@naver.com", one("0114868595@naver.com")},
		{"two: a@x.io, b@y.io", []string{"a@x.io", "b@y.io"}},
		{"mailto:someone@gmail.com?subject=hi", one("someone@gmail.com")},
		{"(kim-lee@company.co.kr)", one("kim-lee@company.co.kr")},
		{"--dash@site.net", one("dash@site.net")},
		{"a..b@example.com", one("b@example.com")}, // the well-formed part next to "@"
		{"a@b.kr.010-1234-5678", one("a@b.kr")},    // the domain ends at the last good TLD
		{"x@00000.AA속0.10.0.0", one("x@00000.AA")},

		{"@username", nil},
		{"user@localhost", nil},
		{"icon@2x.png", nil},
		{"logo@3x.jpg", nil},
		{"a@b", nil},
		{"a@b.c", nil},
		{"a@b.c0m", nil},
		{"a.@example.com", nil},
		{"a@-example.com", nil},
		{"a@example-.com", nil},
		{"처음이야@.@ 8년넘게", nil},
		{"좋다...@0@ 솔로", nil},
		{"홍길동@naver.com", nil}, // the local part is ASCII
		{"user@192.168.0.1", nil},
		{"a@b..com", nil},
		{"1,234 @ 5%", nil},
		{"a@b.c0m.1", nil},
		{"010-1234-5678.@x.com", nil},
	})
}

func TestCard(t *testing.T) {
	runKindCases(t, Card, []kindCase{
		{"4111111111111111", one("4111111111111111")},
		{"카드번호 4111-1111-1111-1111", one("4111-1111-1111-1111")},
		{"card 4012 8888 8888 1881 exp 12/27", one("4012 8888 8888 1881")},
		{"5555555555554444", one("5555555555554444")},
		{"마스터 5105-1051-0510-5100로 결제", one("5105-1051-0510-5100")},
		{"2221000000000009", one("2221000000000009")},
		{"Amex 378282246310005", one("378282246310005")},
		{"3714 496353 98431", one("3714 496353 98431")},
		{"JCB 3530111333300000", one("3530111333300000")},
		{"3566-0020-2036-0505", one("3566-0020-2036-0505")},
		{"은련 6200000000000005", one("6200000000000005")},
		{"6205500000000000004", one("6205500000000000004")},
		{"Discover 6011111111111117.", one("6011111111111117")},
		{"6011 0009 9013 9424", one("6011 0009 9013 9424")},
		{"Diners 36227206271667", one("36227206271667")},
		{"3056 930902 5904", one("3056 930902 5904")},
		{"4222222222222", one("4222222222222")},
		{"4917 6100 0000 0000 003", one("4917 6100 0000 0000 003")},
		{"6555900000604105 만료", one("6555900000604105")},
		// Korean domestic-only cards (9...), and dashes as people type them.
		{"국내전용 9410123456789010", one("9410123456789010")},
		{"9450-1234-5678-9011", one("9450-1234-5678-9011")},
		{"BC카드 9552 1234 5678 9018 결제", one("9552 1234 5678 9018")},
		{"4111 - 1111 - 1111 - 1111", one("4111 - 1111 - 1111 - 1111")},
		{"4111–1111–1111–1111", one("4111–1111–1111–1111")},
		{"9410 - 1234 - 5678 - 9010", one("9410 - 1234 - 5678 - 9010")},

		{"4111111111111112", nil},          // Luhn fails
		{"4111-1111-1111-1112", nil},       // Luhn fails
		{"1234567812345670", nil},          // Luhn-valid, no scheme
		{"0000000000000000", nil},          // all zeros
		{"44444444444444444", nil},         // one digit, Luhn-valid, 17 digits
		{"6666666666666", nil},             // one digit, Luhn-valid, no scheme
		{"5500 0000 0000 004", nil},        // Mastercard is 16 digits
		{"3714496353984312", nil},          // Amex is 15 digits
		{"4111-1111-1111-1111-5", nil},     // extra group
		{"4111.1111.1111.1111", nil},       // dots
		{"4111-1111 1111-1111", nil},       // mixed separators
		{"4111-1111-1111-1111.5", nil},     // decimal part
		{"14111111111111111", nil},         // inside a longer run
		{"ISBN 9788912345678", nil},        // ISBN
		{"주문번호 20240115123456", nil},       // order number
		{"전화 010-1234-5678", nil},          // phone
		{"411 1111 1111 1111", nil},        // wrong grouping
		{"x4111111111111111", nil},         // glued to a word
		{"1,234,567원", nil},                // price
		{"4111111111111111111111", nil},    // too long
		{"41111 11111 11111 1", nil},       // wrong grouping
		{"9111 1111 1111 1111", nil},       // Luhn fails (a domestic-card prefix)
		{"94101234567890", nil},            // a domestic card is 16 digits
		{"941012345678901017", nil},        // a domestic card is 16 digits
		{"4111 - 1111 1111 1111", nil},     // mixed separators
		{"2024 – 0115 – 1234 – 5678", nil}, // no scheme
		{"8111 1111 1111 1116", nil},       // no scheme (8: telecom)
	})
}

func TestAccount(t *testing.T) {
	runKindCases(t, Account, []kindCase{
		{"국민은행 123456-12-123456", one("123456-12-123456")},
		{"신한 110-123-456789", one("110-123-456789")},
		{"계좌번호: 1002-123-456789 (우리)", one("1002-123-456789")},
		{"카카오뱅크 3333-01-1234567", one("3333-01-1234567")},
		{"토스뱅크 1000-1234-5678", one("1000-1234-5678")},
		{"하나은행 123-456789-12345", one("123-456789-12345")},
		{"농협 301-1234-5678-91 예금주 홍길동", one("301-1234-5678-91")},
		{"기업은행 123-456789-01-012", one("123-456789-01-012")},
		{"입금 계좌 123-12-123456", one("123-12-123456")},
		{"account no. 123-123-123456", one("123-123-123456")},
		{"새마을금고 9002-1234-5678-9", one("9002-1234-5678-9")},
		{"우체국 123456-01-123456", one("123456-01-123456")},
		{"123-456789-123 씨티은행으로 보내주세요", one("123-456789-123")},
		{"SC제일은행 123-45-678901", one("123-45-678901")},
		{"Bank transfer to 1234-567-890123", one("1234-567-890123")},
		{"케이뱅크 100-100-123456로 송금", one("100-100-123456")},
		{"주문 후 국민은행 123-12-123456 입금", one("123-12-123456")}, // bank word nearer than 주문

		{"123-456-789012", nil},      // layout, no context
		{"주문번호 123-456-789012", nil}, // order number
		{"국민은행 12-34-5678", nil},     // not a layout
		{"계좌 010-1234-5678", nil},    // phone shape
		{"국민은행 1234567890123", nil},  // no hyphens
		{"신한은행에 다녀왔는데 사람이 정말 많았다 그리고 123-456-789012", nil}, // context too far
		{"우리 가족 2024-01-15", nil},               // date
		{"계좌로 1,234,567원 입금", nil},              // price
		{"은행 123-45-678901-2", nil},             // extra group
		{"계좌 123.456.789012", nil},              // dots
		{"tracking 1234-5678-9012", nil},        // no context
		{"하나 둘 셋 123-456-7890", nil},            // not a layout
		{"신한 110-123-4567890", nil},             // 3-3-7
		{"은행 ISBN 978-89-1234-567-8", nil},      // ISBN
		{"은행 9123-110-123-456789", nil},         // inside a serial
		{"국민 x123-12-123456", nil},              // glued to a word
		{"송장번호 6012-3456-7890 입금 확인 후 발송", nil}, // tracking number
		{"주문번호 1234-567-890123 국민카드 결제", nil},   // order number near a bank name
		{"은행 사업자번호 123-45-67890", nil},          // business number, 3-2-5
	})
}

func TestIP(t *testing.T) {
	runKindCases(t, IP, []kindCase{
		{"192.168.0.1", one("192.168.0.1")},
		{"접속 IP: 10.0.0.254에서", one("10.0.0.254")},
		{"255.255.255.0", one("255.255.255.0")},
		{"172.16.254.1/24", one("172.16.254.1")},
		{"server 10.20.30.40:8080", one("10.20.30.40")},
		{"from 203.0.113.7.", one("203.0.113.7")},
		{"[2001:db8::1]:8080", one("2001:db8::1")},
		{"fe80::1%eth0", one("fe80::1")},
		{"::ffff:192.0.2.128", one("::ffff:192.0.2.128")},
		{"2001:0db8:85a3:0000:0000:8a2e:0370:7334", one("2001:0db8:85a3:0000:0000:8a2e:0370:7334")},
		{"IP:2001:db8::7", one("2001:db8::7")},
		{"주소는 fe80::1 입니다", one("fe80::1")},
		{"fe80::1.", one("fe80::1")},
		{"아이피192.168.0.1입니다", one("192.168.0.1")},
		{"a 10.1.1.1 b 10.1.1.2", []string{"10.1.1.1", "10.1.1.2"}},
		{"0.0.0.10", one("0.0.0.10")},
		{"2001:db8:0:0:1:0:0:1", one("2001:db8:0:0:1:0:0:1")},

		{"256.1.1.1", nil},            // octet over 255
		{"1.2.3.4.5", nil},            // longer dotted number
		{"v1.2.3.4", nil},             // version
		{"version 10.0.19041.1", nil}, // version
		{"버전 10.2.3.40", nil},         // version
		{"01.02.03.04", nil},          // leading zeros
		{"12:30:45", nil},             // time
		{"std::vector", nil},          // C++
		{"2::8 3::7", nil},            // scores
		{"::1", nil},                  // loopback
		{"00:1A:2B:3C:4D:5E", nil},    // MAC address
		{"1.2.3", nil},                // three parts
		{"2024.01.15.", nil},          // date
		{"3.14.15.92.65", nil},        // digits of pi
		{"람보1.2.3.4 씨리즈", nil},        // enumeration glued to a word
		{"4.3.1.2. 순으로", nil},         // ordering
		{"192.168.0", nil},            // three parts
		{"A::B", nil},
		{"Foo::Bar::1234", nil}, // C++ names
		{"1234::x", nil},        // glued to a word                 // no digit
		{"1.2.3.4", nil},        // single digits
		{"10.0.0.1a", nil},      // glued to a word
	})
}

func TestAddress(t *testing.T) {
	runKindCases(t, Address, []kindCase{
		{"서울특별시 중구 세종대로 110", one("세종대로 110")},
		{"경기도 성남시 분당구 판교역로 235", one("판교역로 235")},
		{"세종대로 110-1", one("세종대로 110-1")},
		{"서울 강남구 역삼동 123-45", one("역삼동 123-45")},
		{"역삼동 123번지", one("역삼동 123번지")},
		{"경기도 양평군 양평읍 공흥리 45-6", one("공흥리 45-6")},
		{"강남구 테헤란로 427", one("테헤란로 427")},
		{"도산대로45길 15", one("도산대로45길 15")},
		{"동일로 174길 27", one("동일로 174길 27")},
		{"서울 종로구 종로1가 24", one("종로1가 24")},
		{"성남시 분당구 판교역로 235, 101동 1202호로 보내주세요", one("판교역로 235, 101동 1202호")},
		{"세종대로 110에서 만나요", one("세종대로 110")},
		{"주소: 부산광역시 해운대구 해운대해변로 264 (우동)", one("해운대해변로 264")},
		{"Ship to 서울 마포구 월드컵북로 396, 3층", one("월드컵북로 396, 3층")},
		{"경기도 양평군 양평읍 양평로 12", one("양평로 12")},
		{"중앙로12번길 3", one("중앙로12번길 3")},
		{"세종특별자치시 한누리대로 2130", one("한누리대로 2130")},
		{"서울특별시 서초구 방배동 123-45 거주", one("방배동 123-45")},
		{"세종대로 110번지", one("세종대로 110번지")},
		{"강남구 테헤란로 427로 보내주세요", one("테헤란로 427")}, // particle 로
		{"공흥리 832번지로", one("공흥리 832번지")},

		{"세종대로", nil},
		{"세종대로를 따라 걸었다", nil},
		{"3동 12", nil},
		{"기차로 10분 걸려요", nil},
		{"평점으로 10 점 줍니다", nil},
		{"3번 출구로 나오세요", nil},
		{"서울로 2024년에 이사", nil},
		{"친구 집으로 3 명이 갔다", nil},
		{"역삼동 123", nil},
		{"이동 12-3", nil},
		{"강남구 테헤란로 12.5km", nil},
		{"세종대로 110번 버스", nil},
		{"예상대로 3 대 0으로 이겼다", nil},
		{"그대로 10 년", nil},
		{"서울 강남구 역삼동 12345", nil},
		{"강남구 테헤란로 0", nil},
		{"서울시 버스로 10분", nil},
		{"캉봉거리 21번지", nil},
		{"마음대로 10 개", nil},
		{"마음대로 10로 나눠", nil},
		{"우리 아파트 3동 12층", nil},
		{"도산대로12345길 1", nil},
	})
}
