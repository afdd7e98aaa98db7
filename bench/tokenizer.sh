#!/usr/bin/env bash
# Tokenizer benchmarks recorded in docs/benchmarks.md: times training 32k
# and 64k vocabularies on the whole of NSMC, trains them again with every
# 100th review held out, then compares
# characters per token with o200k and cl100k on the held-out reviews and on
# the Korean LibreOffice help pages. Needs ../shared/data and `make
# deps-demo` (for the help pages). Output: $OUT (default runs/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
DOKJA=${DOKJA:-bin/dokja}
OUT=${OUT:-runs/bench}
NSMC=${NSMC:-../shared/data/nsmc/reviews.jsonl.gz}
mkdir -p "$OUT"
if [ ! -s "$OUT/train.jsonl" ]; then
  gzip -dc "$NSMC" | awk -v t="$OUT/train.jsonl" -v h="$OUT/heldout.jsonl" 'NR % 100 == 0 { print > h; next } { print > t }'
fi
LOKO=/usr/share/libreoffice/help/ko
[ -d "$LOKO" ] || LOKO=.cache/libreoffice-help/usr/share/libreoffice/help/ko
for v in 32000 64000; do
  echo "== train ${v} on the whole NSMC file (time and memory)"
  /usr/bin/time -f "wall %e s, peak RSS %M KB" "$DOKJA" tokenizer train --input "$NSMC" --vocab-size "$v" --out "$OUT/nsmc-all-$v.json"
  echo "== train ${v} on NSMC minus the held-out reviews"
  "$DOKJA" tokenizer train --input "$OUT/train.jsonl" --vocab-size "$v" --out "$OUT/nsmc-$v.json"
done
echo "== held-out NSMC reviews"
"$DOKJA" tokenizer stats --tokenizer "$OUT/nsmc-32000.json" --tokenizer "$OUT/nsmc-64000.json" --tokenizer o200k --tokenizer cl100k --input "$OUT/heldout.jsonl"
if [ -d "$LOKO" ]; then
  echo "== Korean LibreOffice help pages"
  "$DOKJA" tokenizer stats --tokenizer "$OUT/nsmc-32000.json" --tokenizer "$OUT/nsmc-64000.json" --tokenizer o200k --tokenizer cl100k --input "$LOKO"
fi
