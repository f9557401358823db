#!/usr/bin/env bash
# Issue 14, LeNet-5 on MNIST, the longer sparse-VD run (third session, 2026-11-30):
# sparse variational dropout from a dense LeNet-5 for 12 epochs (lenet-5-vd-long.toml:
# Adam 2e-3, log σ² from −8, KL warm-up 2 epochs; the convolutions on the own Flex
# kernels), then dead units removed, 5-bit conv / 4-bit fc weight sharing, 4-bit bias
# codebooks, half precision, format version 2. Results and commands: BENCHMARKS.md,
# "LeNet-5 past 200x and 400x (issue 14, third session)". Stage 2 (from stage 1's
# pruned model, lenet-5-stage2-200.toml and -400.toml): the two points of the issue.
# Measured 2026-11-30 (2 cores, load 11-18): stage 1 6 592 B = 261.6x at 0.82%; stage 2
# 7 533 B = 228.9x at 0.75% and 4 283 B = 402.6x at 0.84% (test error of the .shrk,
# shrink eval, shrink-runtime).
# Usage: bench/issue14/lenet-5-long.sh [RUNS_DIR]   (about 1–1.5 hours on 2 busy cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/issue14}
shrink="cargo run --release -q -p shrink --"
mkdir -p "$runs"
# 0. The dense LeNet-5 (zoo spec, 4 epochs of its cosine schedule; test error 0.65%).
[ -f "$runs/l5-dense/model.safetensors" ] ||
  $shrink train zoo/lenet-5.toml --data mnist --out "$runs/l5-dense" --epochs 4
# A copy of the dense model whose spec's [compress] tables are lenet-5-vd-long.toml's.
python3 bench/issue14/with_settings.py "$runs/l5-dense" bench/issue14/lenet-5-vd-long.toml "$runs/l5-vd-in"
# 1. Sparse VD (12 epochs) and the rest of the pipeline; the file measured by the runtime.
$shrink compress "$runs/l5-vd-in" --data mnist --out "$runs/l5-vd"
$shrink info "$runs/l5-vd/model.shrk"
$shrink eval "$runs/l5-vd/model.shrk" --data mnist
# 2. Stage 2: the pruned model of stage 1 with the dense model's [train] table and a
#    [compress] table appended (the 200x point: more bits, retraining; the 400x point:
#    45% of sparse VD's weights kept by magnitude, retraining).
for v in 200 400; do
  rm -rf "$runs/l5-s2-$v-in" && cp -r "$runs/l5-vd/pruned" "$runs/l5-s2-$v-in"
  rm -f "$runs/l5-s2-$v-in/stage.json"
  { echo; sed -n '/^\[train\]/,$p' bench/issue14/lenet-5-stage2-$v.toml; } >> "$runs/l5-s2-$v-in/spec.toml"
  $shrink compress "$runs/l5-s2-$v-in" --data mnist --out "$runs/l5-s2-$v"
  $shrink eval "$runs/l5-s2-$v/model.shrk" --data mnist
done
