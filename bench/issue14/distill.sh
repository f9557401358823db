#!/usr/bin/env bash
# Issue 14 item 4: what distillation inside compression buys. LeNet-300-100 with the zoo
# spec minus its `augment` line (distillation applies only when the spec does not
# augment), dense trained 10 epochs, then compressed with and without --no-distill, same
# seed. Measured 2026-11-30 (BENCHMARKS.md, "What distillation inside compression buys"):
# 26 981 B at 1.94% with, 26 993 B at 1.98% without (dense 1.62%).
# Usage: bench/issue14/distill.sh [RUNS_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/issue14-distill}
shrink="cargo run --release -q -p shrink --"
mkdir -p "$runs"
grep -v '^augment' zoo/lenet-300-100.toml > "$runs/l3-noaug.toml"
[ -f "$runs/dense/model.safetensors" ] ||
  $shrink train "$runs/l3-noaug.toml" --data mnist --out "$runs/dense" --epochs 10
$shrink compress "$runs/dense" --data mnist --out "$runs/with-distill"
$shrink compress "$runs/dense" --data mnist --out "$runs/no-distill" --no-distill
for d in with-distill no-distill; do $shrink eval "$runs/$d/model.shrk" --data mnist; done
