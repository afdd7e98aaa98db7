#!/usr/bin/env bash
# Language identification accuracy recorded in docs/benchmarks.md: the
# LibreOffice help pages translated into the langid stage's twelve default
# languages (Debian's libreoffice-help-* packages, fetched here with
# apt-get download into .cache/langid), scored by data's
# TestLangIDAccuracy with lingua-go (high and low accuracy) and
# whatlanggo. Needs `make deps-demo` for the Korean and English pages.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=.cache/langid
HELP=$CACHE/usr/share/libreoffice/help
mkdir -p "$CACHE/debs"
for l in ja zh-cn de fr es ru vi id pt it; do
  if ! ls "$CACHE/debs"/libreoffice-help-"$l"_*.deb >/dev/null 2>&1; then
    (cd "$CACHE/debs" && apt-get download "libreoffice-help-$l")
  fi
done
for f in "$CACHE"/debs/*.deb; do dpkg-deb -x "$f" "$CACHE"; done
for l in ko en-US; do
  src=/usr/share/libreoffice/help/$l
  [ -d "$src" ] || src=$PWD/.cache/libreoffice-help/usr/share/libreoffice/help/$l
  ln -sfn "$src" "$HELP/$l"
done
DOKJA_LANGID_PAGES=$PWD/$HELP go test -count=1 -run TestLangIDAccuracy -v ./data/ | grep -E "accuracy|PASS|FAIL|ok"
