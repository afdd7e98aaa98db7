package pii

// accountLayouts are the hyphenated group layouts of Korean bank account
// numbers that are redacted (packed as in groups.lens), 10-14 digits:
//
//	3-2-6   SC제일, 신한 (old), 농협 (old)
//	3-3-6   신한, 케이뱅크
//	3-6-3   씨티
//	3-6-5   하나
//	3-2-4-3 국민 (old)
//	3-4-4-2 농협, 부산
//	3-6-2-3 기업
//	4-2-7   카카오뱅크
//	4-3-6   우리
//	4-4-4   토스뱅크
//	4-4-4-1 새마을금고
//	6-2-6   국민, 농협, 우체국
//
// Account numbers have no public checksum and these shapes also fit order
// and serial numbers, so a layout alone is not enough: a bank or transfer
// word (accountContext) must also stand within accountContextRunes
// characters before or after, and no word for another kind of number
// (accountNotContext) just before. Unhyphenated runs are never accounts,
// and 3-4-4 is left to Phone.
var accountLayouts = []int{326, 336, 363, 365, 3243, 3442, 3623, 427, 436, 444, 4441, 626}

// accountNotContext are words for other numbers of the same shapes; one
// within accountNotRunes before the number, with no bank word between,
// rules it out ("송장번호 6012-3456-7890, 입금 확인 후 발송", but not
// "주문 후 국민은행 123-12-123456").
var accountNotContext = newContextWords(
	"송장", "운송장", "주문", "사업자", "전화", "휴대폰", "연락처", "팩스", "우편", "isbn",
	"tracking", "order", "invoice", "tel.", "tel:", "fax", "phone",
)

const accountNotRunes = 10

var accountContext = newContextWords(
	"은행", "계좌", "국민", "신한", "우리", "하나", "농협", "기업", "카카오뱅크", "토스뱅크", "케이뱅크",
	"새마을", "우체국", "수협", "신협", "씨티", "sc제일", "입금", "송금", "이체", "예금주",
	"account", "bank", "acct",
)

const accountContextRunes = 20

// findAccounts finds hyphenated account numbers next to a bank word.
func findAccounts(s string, dst []Match) []Match {
	return findRuns(s, Account, dst, accountAt)
}

func accountAt(s string, i int) int {
	if gluedLeft(s, i, "-.") {
		return -1
	}
	g, ok := parseGroups(s, i, "-")
	if !ok || g.n < 3 || g.n > 4 {
		return -1
	}
	end := g.end[g.n-1]
	if gluedRight(s, end, "-.") || inV6Run(s, i, end) {
		return -1
	}
	v := g.lens(g.n)
	found := false
	for _, l := range accountLayouts {
		found = found || l == v
	}
	if !found {
		return -1
	}
	cue := accountContext.lastBefore(s, i, accountContextRunes)
	if cue < 0 && !accountContext.after(s, end, accountContextRunes) {
		return -1
	}
	if accountNotContext.lastBefore(s, i, accountNotRunes) > cue {
		return -1
	}
	return end
}
