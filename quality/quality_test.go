package quality

import (
	"slices"
	"strings"
	"testing"
)

// reasonCase is a document that a rule drops. setup adjusts the language's
// default rules first (nil: defaults). disable turns the rule off; the same
// document must then be kept, which shows that nothing else trips on it.
// Where a document unavoidably trips more than one rule (a repeated
// paragraph is also a set of repeated lines), disable turns those off too
// and says so.
type reasonCase struct {
	name    string
	lang    string
	text    string
	setup   func(*Rules)
	reason  string
	disable func(*Rules)
}

// sentences splits a sample into one sentence per line.
func sentences(s string) []string {
	s = strings.NewReplacer("\n\n", " ", "\n", " ").Replace(s)
	var out []string
	for s != "" {
		i := strings.Index(s, ". ")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+2:]
	}
	return out
}

// onlyNgram turns off every n-gram rule but the one for n.
func onlyNgram(n int) func(*Rules) {
	return func(r *Rules) {
		keep := *ngramField(r, n)
		noNgrams(r)
		*ngramField(r, n) = keep
	}
}

func noNgrams(r *Rules) {
	for n := 2; n <= 10; n++ {
		*ngramField(r, n) = 0
	}
}

func ngramField(r *Rules, n int) *float64 {
	p := &r.GopherRep
	return [...]*float64{2: &p.MaxTop2GramFrac, 3: &p.MaxTop3GramFrac, 4: &p.MaxTop4GramFrac,
		5: &p.MaxDup5GramFrac, 6: &p.MaxDup6GramFrac, 7: &p.MaxDup7GramFrac, 8: &p.MaxDup8GramFrac,
		9: &p.MaxDup9GramFrac, 10: &p.MaxDup10GramFrac}[n]
}

// withPhrase puts a phrase of n words into two different sentences of
// enRiver, so that it repeats once and no (n+1)-gram does.
func withPhrase(n int) string {
	words := strings.Fields("unprecedented torrential downpours overwhelmed neighbouring agricultural settlements throughout eighteenth-century Northumberland")
	p := strings.Join(words[:n], " ")
	return strings.Replace(strings.Replace(enRiver, "Its valley", "Quite "+p+" its valley", 1),
		"Today the", "Lately "+p+" the", 1)
}

func reasonCases() []reasonCase {
	enS := sentences(enRiver)
	libS := sentences(enLibrary)
	return []reasonCase{
		{name: "blank", lang: "en", text: " \n\t\u3000\n", reason: "empty"},

		// Gopher quality.
		{name: "short", lang: "en", reason: "gopher.min_words",
			text:    "Water boils at one hundred degrees at sea level. Higher up, it boils sooner. Cooks in the mountain towns adjust their recipes. Pasta takes longer there. Pressure cookers help with this problem.",
			disable: func(r *Rules) { r.Gopher.MinWords = 0 }},
		{name: "short ko", lang: "ko", reason: "gopher.min_words",
			text:    "서울은 한국의 수도이다. 인구는 약 천만 명이다. 한강이 도시를 가로지른다. 조선의 도읍이기도 했다. 지금은 경제의 중심지이다.",
			disable: func(r *Rules) { r.Gopher.MinWords = 0 }},
		{name: "long", lang: "en", text: enRiver, reason: "gopher.max_words",
			setup:   func(r *Rules) { r.Gopher.MaxWords = 100 },
			disable: func(r *Rules) { r.Gopher.MaxWords = 0 }},
		{name: "short words", lang: "en", text: enRiver, reason: "gopher.min_mean_word_len",
			setup:   func(r *Rules) { r.Gopher.MinMeanWordLen = 5 },
			disable: func(r *Rules) { r.Gopher.MinMeanWordLen = 0 }},
		{name: "long words", lang: "ko", text: koRiver, reason: "gopher.max_mean_word_len",
			setup:   func(r *Rules) { r.Gopher.MaxMeanWordLen = 3 },
			disable: func(r *Rules) { r.Gopher.MaxMeanWordLen = 0 }},
		{name: "hashtags", lang: "en", reason: "gopher.hash_ratio",
			text:    enRiver + "\n#river #valley #canal #history #walking #locks #coal #grain #railway #towpath #museum #harbour #boats #hills #sea",
			disable: func(r *Rules) { r.Gopher.MaxSymbolWordRatio = 0 }},
		{name: "ellipses", lang: "en", reason: "gopher.ellipsis_ratio",
			text: lines(
				"The old bridge... it was built in 1850 by workers from the villages nearby.",
				"They carried stones... heavy ones... from the quarry on the hill to the river.",
				"My grandfather said... and he was there as a boy... that it took four years.",
				"The arches were made of granite... cut by hand... and fitted without mortar.",
				"When the flood came in 1903... the water rose... but the bridge stood firm.",
				"People still cross it every morning... on foot... on their way to the market."),
			disable: func(r *Rules) { r.Gopher.MaxSymbolWordRatio = 0 }},
		{name: "bullets", lang: "en", reason: "gopher.bullet_lines",
			text: lines(
				"- The museum opens at nine in the morning on weekdays.",
				"- Guided tours of the old mill start every hour from the main gate.",
				"- Visitors can borrow audio guides in English and Korean at the desk.",
				"- The café on the ground floor serves lunch until two in the afternoon.",
				"- Photography is allowed in most rooms, but flash must be turned off.",
				"- The garden behind the mill is open to the public in summer.",
				"- School groups should book their visit at least two weeks ahead.",
				"- The shop sells books about the history of the valley and its crafts."),
			disable: func(r *Rules) { r.Gopher.MaxBulletLines = 0 }},
		{name: "trailing ellipses", lang: "en", reason: "gopher.ellipsis_lines",
			text: lines(
				"The public library opened in 1902 with a gift from a local merchant.",
				"At first it occupied two rooms above the post office...",
				"The collection held fewer than three thousand volumes.",
				"A new building was completed in 1931 to a regional design...",
				"It included a reading room with tall windows and a lecture hall.",
				"During the war the basement served as a shelter for families...",
				"The staff kept the lending service running with volunteers.",
				"After 1960 the library added records, films and computers...",
				"It now lends electronic books as well."),
			disable: func(r *Rules) { r.Gopher.MaxEllipsisLines = 0 }},
		{name: "numbers", lang: "en", reason: "gopher.alpha_words",
			text: lines(
				"The census counted 1,204 people in 1900, 1,391 in 1910 and 1,577 in 1920.",
				"By 1930 the figure had reached 1,802, and in 1940 it stood at 2,115.",
				"After the war it grew faster: 2,960 in 1950, 3,874 in 1960 and 4,411 in 1970.",
				"The mine closed in 1975, and by 1980 only 3,950 people remained.",
				"In 1990 the count was 3,602, in 2000 it was 3,488 and in 2010 it was 3,510.",
				"The most recent census, taken in 2020, recorded 3,655 residents."),
			disable: func(r *Rules) { r.Gopher.MinAlphaWords = 0 }},
		{name: "no stop words", lang: "en", reason: "gopher.min_stop_words",
			text:    "Quarterly sales rose sharply across Asia, led by strong demand for electric bikes. Profits doubled from last year, while costs fell slightly. Europe remained weak, although orders picked up in March. Analysts expect further growth next quarter as new factories open in Vietnam. Shares climbed four percent after this report, reaching a record high. Management plans two new models for spring, both aimed at younger riders in large cities. Dividends will rise modestly.",
			disable: func(r *Rules) { r.Gopher.MinStopWords = 0 }},

		// Gopher repetition.
		{name: "repeated short paragraphs", lang: "en", reason: "gopher_rep.dup_para_frac",
			text:    enLibrary + "\n\nSee also.\n\n" + strings.Join(enS[:3], " ") + "\n\nSee also.\n\n" + strings.Join(enS[3:], " ") + "\n\nSee also.",
			disable: func(r *Rules) { r.GopherRep.MaxDupParaFrac = 0 }},
		{name: "repeated long paragraph", lang: "en", reason: "gopher_rep.dup_para_char_frac",
			text: enLibrary + "\n\n" + enRiver + "\n\n" + enLibrary,
			disable: func(r *Rules) {
				// The repeated paragraph's lines and n-grams repeat too.
				r.GopherRep.MaxDupParaCharFrac = 0
				r.GopherRep.MaxDupLineFrac = 0
				r.GopherRep.MaxDupLineCharFrac = 0
				r.FineWeb.MaxCharDupRatio = 0
				noNgrams(r)
			}},
		{name: "repeated short lines", lang: "en", reason: "gopher_rep.dup_line_frac",
			text: lines(enS[0], "Read more.", enS[1], enS[2], "Read more.", enS[3], enS[4], "Read more.",
				enS[5], libS[0], "Read more.", libS[1], libS[2], "Read more.", libS[3], "Read more."),
			disable: func(r *Rules) { r.GopherRep.MaxDupLineFrac = 0 }},
		{name: "repeated long line", lang: "en", reason: "gopher_rep.dup_line_char_frac",
			text: lines(enS[0], enS[1], libS[0]+" "+libS[1], enS[2], enS[3], enS[4], enS[5], libS[0]+" "+libS[1]),
			disable: func(r *Rules) {
				// The repeated line's n-grams repeat too, and FineWeb sees it.
				r.GopherRep.MaxDupLineCharFrac = 0
				r.FineWeb.MaxCharDupRatio = 0
				noNgrams(r)
			}},
		{name: "keyword stuffing", lang: "en", reason: "gopher_rep.top_2gram_frac",
			text: lines(
				"Find hotel deals in Seoul for every budget this spring.",
				"Our hotel deals cover downtown towers and quiet guesthouses alike.",
				"Compare hotel deals from trusted partners before you book a room.",
				"Last-minute hotel deals appear every Friday on our homepage.",
				"Families love hotel deals that include breakfast for children.",
				"Business travellers choose hotel deals near the convention centre.",
				"Weekend hotel deals often sell out within a few hours.",
				"Sign up today and receive hotel deals straight in your inbox.",
				"Share hotel deals with friends.", "Book hotel deals now."),
			disable: func(r *Rules) { r.GopherRep.MaxTop2GramFrac = 0 }},
		{name: "repeated 3-gram", lang: "en", reason: "gopher_rep.top_3gram_frac",
			text: lines(
				"Seoul Metropolitan Government announced a new housing plan on Monday.",
				"Under the plan, Seoul Metropolitan Government will build twenty thousand rental homes by 2030.",
				"Critics say Seoul Metropolitan Government has promised similar numbers before without results.",
				"A spokesperson for Seoul Metropolitan Government said land purchases had already begun.",
				"Residents near the proposed sites asked Seoul Metropolitan Government for public hearings.",
				"Officials at Seoul Metropolitan Government expect construction to start next year."),
			setup:   onlyNgram(3),
			disable: func(r *Rules) { r.GopherRep.MaxTop3GramFrac = 0 }},
		{name: "repeated 4-gram", lang: "en", reason: "gopher_rep.top_4gram_frac",
			text: lines(
				"National Museum of Korea reopened its prehistory galleries this week.",
				"Curators from National Museum of Korea spent two years rearranging them.",
				"Visitors praised National Museum of Korea for clearer labels and lighting.",
				"Entry to National Museum of Korea remains free, except for special exhibitions.",
				"Researchers at National Museum of Korea also published a new catalogue.",
				"Schools may book guided visits through National Museum of Korea online."),
			setup:   onlyNgram(4),
			disable: func(r *Rules) { r.GopherRep.MaxTop4GramFrac = 0 }},
		{name: "repeated sentence", lang: "en", reason: "gopher_rep.dup_5gram_frac",
			text: lines(libS[0], libS[1]+" Tickets can be bought online or at the gate on the day of the visit.",
				libS[2], libS[3]+" Tickets can be bought online or at the gate on the day of the visit."),
			disable: func(r *Rules) { noNgrams(r) }},
		{name: "6-gram", lang: "en", text: withPhrase(6), reason: "gopher_rep.dup_6gram_frac",
			setup: onlyNgram(6), disable: func(r *Rules) { r.GopherRep.MaxDup6GramFrac = 0 }},
		{name: "7-gram", lang: "en", text: withPhrase(7), reason: "gopher_rep.dup_7gram_frac",
			setup: onlyNgram(7), disable: func(r *Rules) { r.GopherRep.MaxDup7GramFrac = 0 }},
		{name: "8-gram", lang: "en", text: withPhrase(8), reason: "gopher_rep.dup_8gram_frac",
			setup: onlyNgram(8), disable: func(r *Rules) { r.GopherRep.MaxDup8GramFrac = 0 }},
		{name: "9-gram", lang: "en", text: withPhrase(9), reason: "gopher_rep.dup_9gram_frac",
			setup: onlyNgram(9), disable: func(r *Rules) { r.GopherRep.MaxDup9GramFrac = 0 }},
		{name: "10-gram", lang: "en", text: withPhrase(10), reason: "gopher_rep.dup_10gram_frac",
			setup: onlyNgram(10), disable: func(r *Rules) { r.GopherRep.MaxDup10GramFrac = 0 }},

		// C4.
		{name: "lorem ipsum", lang: "en", reason: "c4.lorem_ipsum",
			text:    enRiver + "\n\nLorem Ipsum dolor sit amet, consectetur adipiscing elit.",
			disable: func(r *Rules) { r.C4.LoremIpsum = false }},
		{name: "curly bracket", lang: "en", reason: "c4.curly_bracket",
			text:    enRiver + "\n\nIn set notation the three towns are written as {Ashford, Brook, Calder}.",
			disable: func(r *Rules) { r.C4.CurlyBracket = false }},
		{name: "all policy lines", lang: "en", reason: "c4.empty",
			text: lines(
				"This website uses cookies to improve your experience while you navigate through the pages.",
				"By continuing to browse the site you agree to our use of cookies and our privacy policy.",
				"Please read the terms of use carefully before you place an order with the shop.",
				"Our cookie policy explains which cookies we use and how you can switch them off.",
				"You can change your privacy policy settings at any time in your account page.",
				"The site uses cookies from third parties to measure traffic and to show adverts."),
			disable: func(r *Rules) { r.C4.PolicyPhrases = nil }},
		{name: "four sentences", lang: "en", reason: "c4.min_sentences",
			text:    "The observatory stands on a ridge above the town and was built in 1889 by the regional university. Its main telescope, a refractor with a lens of sixty centimetres, was for many years one of the largest in the country. Astronomers working there measured the positions of thousands of stars and published a catalogue that is still cited today. The building now belongs to a foundation that opens it to visitors on clear evenings in summer.",
			disable: func(r *Rules) { r.C4.MinSentences = 0 }},

		// FineWeb.
		{name: "navigation lines", lang: "en", reason: "fineweb.line_punct_ratio",
			text: lines(strings.Join(enS[:6], " "),
				"Home page of the river valley heritage trust",
				"Opening hours and prices for the canal museum",
				"Maps of the towpath between the harbour and the hills",
				"Volunteer with the lock keepers this summer season",
				"Photo gallery from the annual boat festival",
				"Contact details for school visits and group tours",
				"Latest news from the restoration project team",
				"Support our work through membership or donations",
				"Accessibility information for wheelchair users"),
			disable: func(r *Rules) { r.FineWeb.MinLinePunctRatio = 0 }},
		{name: "short lines", lang: "en", reason: "fineweb.short_line_ratio",
			text: lines(
				"The mill opened in 1820.", "It ground wheat and oats.", "Water from the weir drove it.",
				"The wheel was made of oak.", "Two families ran the mill.", "Flour went to the market.",
				"Carts crossed the old bridge.", "The mill closed in 1921.", "A fire damaged the roof.",
				"The trust bought it in 1980.", "Volunteers rebuilt the wheel.", "It turns again each summer."),
			disable: func(r *Rules) { r.FineWeb.MaxShortLineRatio = 0 }},
		{name: "repeated caption", lang: "en", reason: "fineweb.char_dup_ratio",
			text: lines(libS[0]+" "+libS[1], "Photo courtesy of the town archive.", libS[2]+" "+libS[3],
				libS[4], "Photo courtesy of the town archive.", libS[5]),
			disable: func(r *Rules) { r.FineWeb.MaxCharDupRatio = 0 }},
		{name: "list", lang: "en", reason: "fineweb.list_ratio",
			text: lines(
				"The mill stands.", "Extensive archaeological excavations.", "Visitors are welcome.",
				"Remarkable architectural preservation.", "Open every day.", "Comprehensive photographic documentation.",
				"Free guided tours.", "Internationally recognised craftsmanship.", "Parking is limited.",
				"Traditional agricultural communities.", "Dogs are allowed.", "Significant environmental restoration.",
				"Children enter free.", "Independent historical investigations.", "Bring the family.",
				"Extraordinary geological formations.", "Shop sells books.", "Unprecedented municipal investment.",
				"Lunch is served.", "Outstanding educational programmes."),
			disable: func(r *Rules) { r.FineWeb.MaxNewlineWordRatio = 0 }},

		// Korean.
		{name: "latin-heavy korean", lang: "ko", reason: "korean.hangul_ratio",
			text:    "Kubernetes는 container orchestration을 위한 open source platform이다. Google이 처음 개발했으며 지금은 Cloud Native Computing Foundation이 관리한다. Pod는 하나 이상의 container를 묶은 deployment 단위이다. Service는 여러 Pod 앞에서 load balancing을 담당한다. Helm chart를 쓰면 복잡한 application도 쉽게 설치할 수 있다. 대부분의 public cloud provider가 managed Kubernetes service를 제공한다.",
			disable: func(r *Rules) { r.Korean.MinHangulRatio = 0 }},
		{name: "jamo", lang: "ko", reason: "korean.jamo_ratio",
			text:    "어제 친구랑 영화 봤는데 ㅋㅋ ㅎㅎ 너무 웃겼다 ㅋㅋ ㅋ. 주인공이 넘어지는 장면에서 ㅋㅋ ㅋ 다들 웃었다 ㅎㅎ ㅎ. 결말은 좀 슬펐다 ㅠㅠ ㅜㅜ ㅠ. 그래도 음악은 최고였다 ㄷㄷ ㅇㅇ ㄷ. 다음 편도 꼭 보고 싶다 ㅎㅎ ㅋ ㅎ. 진짜 강추 ㅇㅇ ㄱㄱ ㅋㅋ ㅎ.",
			disable: func(r *Rules) { r.Korean.MaxJamoRatio = 0 }},
		{name: "character runs", lang: "ko", reason: "korean.char_run_ratio",
			text:    "이 영화는 올해 본 작품 중에서 최고였다!!!!!!!! 배우들의 연기가 정말 훌륭했다!!!!!!! 음악도 장면마다 잘 어울렸다!!!!!! 마지막 장면에서는 나도 모르게 눈물이 났다!!!!!!! 극장을 나서면서 친구와 한참 동안 이야기를 나눴다!!!!!! 모두에게 꼭 추천하고 싶다!!!!!!!!",
			disable: func(r *Rules) { r.Korean.MaxRunCharRatio = 0 }},
		{name: "noun list", lang: "ko", reason: "korean.min_particles",
			text:    "서울 맛집 추천. 부산 해운대 숙소. 제주 렌터카 할인. 강릉 커피 투어. 전주 한옥 체험. 경주 역사 탐방. 여수 야경 산책. 춘천 닭갈비 골목. 통영 케이블카 예약. 목포 근대 건축. 인천 차이나타운 명소.",
			disable: func(r *Rules) { r.Korean.MinParticleWords = 0 }},
	}
}

// filterFor returns a Filter whose rules for lang are the defaults changed
// by each of fns.
func filterFor(t *testing.T, lang string, fns ...func(*Rules)) *Filter {
	t.Helper()
	cfg := DefaultConfig()
	key := normLang(lang)
	if _, ok := cfg.Langs[key]; !ok {
		key = "default"
	}
	r := cfg.Langs[key]
	for _, fn := range fns {
		if fn != nil {
			fn(&r)
		}
	}
	cfg.Langs[key] = r
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReasons(t *testing.T) {
	all := Reasons()
	if !slices.IsSorted(all) {
		t.Errorf("Reasons() not sorted: %q", all)
	}
	covered := map[string]bool{}
	for _, c := range reasonCases() {
		t.Run(c.name, func(t *testing.T) {
			if !slices.Contains(all, c.reason) {
				t.Fatalf("reason %q not in Reasons()", c.reason)
			}
			covered[c.reason] = true
			res := filterFor(t, c.lang, c.setup).Check(c.text, c.lang)
			if res.Keep || res.Reason != c.reason {
				t.Fatalf("Check = keep %v, reason %q (%s); want drop by %q", res.Keep, res.Reason, res.Detail, c.reason)
			}
			if res.Text != c.text || res.Modified || res.Detail == "" {
				t.Errorf("dropped result: Text changed %v, Modified %v, Detail %q", res.Text != c.text, res.Modified, res.Detail)
			}
			t.Logf("%s: %s", res.Reason, res.Detail)
			if c.disable == nil {
				return
			}
			res = filterFor(t, c.lang, c.setup, c.disable).Check(c.text, c.lang)
			if !res.Keep {
				t.Errorf("with the rule off: dropped by %q (%s); want kept", res.Reason, res.Detail)
			}
		})
	}
	for _, r := range all {
		if !covered[r] {
			t.Errorf("no test trips %q", r)
		}
	}
}
