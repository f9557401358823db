#!/bin/bash
# Issue 11's small-data check: train and compress each zoo spec on each small set with
# default settings; print dense vs .shrk test error, one Markdown table row per case.
#
# Usage (from the repo root): bench/small-data/run.sh DATA_DIR OUT_DIR [heldout|fresh|fresh2|fresh3|fresh4]
#
# DATA_DIR holds the sets (every *.csv file and IDX folder in it is used). When it does
# not exist it is made: by make.py, by make_heldout.py with `heldout`, or by make_fresh.py
# with `fresh` (the third family, run once at the end of issue 11's work), or by
# make_fresh2.py with `fresh2` (the fourth, made before the next session's changes), or by
# make_fresh3.py with `fresh3` (the fifth, made before the fifth session's), or by
# make_fresh4.py with `fresh4` (the sixth, made before that session's second change). Making sets
# needs numpy and scikit-learn: a venv at $SHRINK_BENCH_VENV (default
# ~/.cache/shrink-bench-venv) is created with pip when it lacks them. The release
# binary ($SHRINK, default target/release/shrink under $CARGO_TARGET_DIR) is built with
# cargo when missing.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 DATA_DIR OUT_DIR [heldout|fresh|fresh2|fresh3|fresh4]" >&2
  exit 2
fi
DATA=$1; OUT=$2; KIND=${3:-main}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${SHRINK:-${CARGO_TARGET_DIR:-target}/release/shrink}
SPECS=${SPECS:-"lenet-300-100 mlp-bn shallow-800"}

if [ ! -d "$DATA" ]; then
  VENV=${SHRINK_BENCH_VENV:-$HOME/.cache/shrink-bench-venv}
  if ! "$VENV/bin/python" -c "import numpy, sklearn" 2>/dev/null; then
    echo "creating $VENV (numpy, scikit-learn) to make the data sets" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy scikit-learn
  fi
  case $KIND in
    heldout) "$VENV/bin/python" "$HERE/make_heldout.py" "$DATA" ;;
    fresh) "$VENV/bin/python" "$HERE/make_fresh.py" "$DATA" ;;
    fresh2) "$VENV/bin/python" "$HERE/make_fresh2.py" "$DATA" ;;
    fresh3) "$VENV/bin/python" "$HERE/make_fresh3.py" "$DATA" ;;
    fresh4) "$VENV/bin/python" "$HERE/make_fresh4.py" "$DATA" ;;
    *) "$VENV/bin/python" "$HERE/make.py" "$DATA" ;;
  esac
fi
if [ ! -x "$BIN" ]; then
  echo "building $BIN" >&2
  cargo build --release -p shrink
fi
mkdir -p "$OUT"
echo "| set | rows | columns | spec | n test | dense | \`.shrk\` | Δ points | smaller |"
echo "|---|---:|---:|---|---:|---:|---:|---:|---:|"
for path in "$DATA"/*; do
  d=$(basename "$path")
  case $d in
    *.csv) rows=$(($(wc -l < "$path") - 1)); cols=$(($(head -1 "$path" | tr ',' '\n' | wc -l) - 1)) ;;
    *) [ -d "$path" ] || continue
       # IDX: images in both splits; columns = pixels per image.
       rows=$(python3 -c "
import struct, sys
n = 0
for s in ('train', 't10k'):
    b = open('$path/' + s + '-images-idx3-ubyte', 'rb').read(16)
    n += struct.unpack('>I', b[4:8])[0]
    h, w = struct.unpack('>II', b[8:16])
print(n, h * w)")
       cols=${rows#* }; rows=${rows% *} ;;
  esac
  for s in $SPECS; do
    o=$OUT/$s-${d%.csv}
    if "$BIN" compress "zoo/$s.toml" --data "$path" --out "$o" --json --quiet > "$o.json" 2> "$o.err"; then
      python3 -c "
import json
r = json.load(open('$o.json'))
d, c = 100 * r['test_error_dense'], 100 * r['test_error_shrk']
print(f\"| ${d%.csv} | $rows | $cols | $s | {r['n']} | {d:.2f}% | {c:.2f}% | {c - d:+.2f} | {r['ratio']:.1f}x |\")"
    else
      echo "| ${d%.csv} | $rows | $cols | $s | FAILED: $(tail -1 "$o.err") | | | | |"
    fi
  done
done
