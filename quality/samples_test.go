package quality

import "strings"

// Sample documents written for these tests, in plain encyclopedic style.

const enRiver = `The river rises in the northern hills and flows south for about two hundred kilometres before it reaches the sea. Its valley has been farmed since the Bronze Age, and the remains of several early settlements have been found along its banks.

In the nineteenth century a canal was built to connect the river with the industrial towns to the east. The canal carried coal and grain for almost a hundred years, but traffic declined after the railway opened in 1870.

Today the towpath is a popular walking route, and the old locks are protected as historic monuments. A small museum near the harbour explains how the boats were loaded and how the lock keepers lived.`

const enLibrary = `The public library opened in 1902 with a gift from a local merchant who wanted every child in the town to have access to books. At first it occupied two rooms above the post office, and the collection held fewer than three thousand volumes.
A new building designed by a regional architect was completed in 1931. It included a reading room with tall windows, a separate section for children, and a small lecture hall that is still used for public talks.
During the war the basement served as a shelter, and the staff kept the lending service running with the help of volunteers. After 1960 the library added records, films and later computers, and it now lends electronic books as well.`

const koRiver = `한강은 강원도 태백시의 검룡소에서 발원하여 서울을 지나 황해로 흘러가는 강이다. 전체 길이는 약 500킬로미터이며, 유역에는 한반도 인구의 상당 부분이 살고 있다.

삼국 시대에는 한강 유역을 차지하기 위해 백제와 고구려, 신라가 오랫동안 다투었다. 조선 시대에는 강을 따라 물자를 실어 나르는 나루터가 곳곳에 세워졌다.

오늘날 한강 주변에는 공원과 자전거 도로가 조성되어 많은 시민이 여가를 즐긴다. 여름에는 강변에서 불꽃 축제가 열리며, 겨울에는 일부 구간이 얼어붙기도 한다.`

const koLibrary = `이 도서관은 1902년에 지역 상인의 기부로 문을 열었으며, 처음에는 우체국 건물 이층의 방 두 개를 사용하였다. 개관 당시 장서는 삼천 권이 되지 않았지만 해마다 조금씩 늘어났다.
1931년에는 지역 건축가가 설계한 새 건물이 완공되었다. 새 건물에는 창이 높은 열람실과 어린이 자료실, 그리고 지금도 강연에 쓰이는 작은 강당이 들어섰다.
전쟁 중에는 지하실이 대피소로 쓰였고, 직원들은 자원봉사자들의 도움을 받아 대출 업무를 이어 갔다. 1960년 이후에는 음반과 영화, 컴퓨터를 차례로 갖추었고 지금은 전자책도 빌려준다.`

// lines joins lines with "\n".
func lines(ls ...string) string { return strings.Join(ls, "\n") }

const enMountain = `The mountain is the highest point of the range and was first climbed in 1865 by a party of four guides. Its northern face is covered by a glacier that has retreated by more than a kilometre since measurements began. A hut built below the summit in 1910 still offers shelter to climbers during the summer months. Several rare alpine plants grow on its southern slopes, and the area has been a nature reserve since 1978. In winter the approach roads are often closed by snow, and the valley villages depend on a single railway line.`

const koMountain = `지리산은 경상남도와 전라남도, 전라북도에 걸쳐 있는 산으로, 최고봉인 천왕봉의 높이는 1,915미터이다. 1967년에 우리나라 최초의 국립공원으로 지정되었다. 산에는 화엄사와 쌍계사 같은 오래된 절이 많고, 봄에는 철쭉이 능선을 붉게 물들인다. 종주 등산로는 약 40킬로미터로, 보통 이틀이나 사흘에 걸쳐 걷는다. 정상 부근에는 구상나무 숲이 남아 있어 학술적 가치도 높다. 겨울에는 눈이 많이 내려 일부 탐방로가 통제된다.`
