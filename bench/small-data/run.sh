#!/bin/bash
# Train and compress each zoo spec on each small set made by make.py, with default
# settings; print dense vs .shrk test error. Usage: bench/small-data/run.sh DATA_DIR OUT_DIR
# (from the repo root, with the release binary built).
set -u
DATA=$1; OUT=$2; BIN=${SHRINK:-${CARGO_TARGET_DIR:-target}/release/shrink}
mkdir -p "$OUT"
for d in iris.csv wine.csv bc.csv credit400.csv mixed300.csv digits8 mnist8-600; do
  for s in lenet-300-100 mlp-bn shallow-800; do
    o=$OUT/$s-${d%.csv}
    if "$BIN" compress zoo/$s.toml --data "$DATA/$d" --out "$o" --json --quiet > "$o.json" 2> "$o.err"; then
      python3 -c "import json; r = json.load(open('$o.json')); print(f\"$d $s dense {100*r['test_error_dense']:.2f}% .shrk {100*r['test_error_shrk']:.2f}% n={r['n']} {r['ratio']:.1f}x\")"
    else
      echo "$d $s FAILED: $(tail -1 "$o.err")"
    fi
  done
done
