#!/usr/bin/env bash
# Issue 14, LeNet-5 on MNIST: sparse variational dropout from a dense LeNet-5, then
# dead-unit removal, weight sharing, bias codebooks, half-precision codebooks and
# floats, and format version 2 (deflated header). Settings: lenet-5-vd.toml (variant A)
# and lenet-5-vd-b.toml (variant B, a harder push).
# Measured 2026-11-30 (2 cores shared by six helpers, load average 18-30): the dense
# net was trained 1 epoch of the 12-epoch schedule, interrupted, and resumed with
# --epochs 4 (val 99.27%, test error 0.65%; step 0 below trains 4 epochs from scratch
# instead). Variant A: 35.5% of weights kept, 110 580 bytes = 15.6x at 1.20% test error
# (.shrk, shrink-runtime) — 2 epochs of sparse VD are far too few (the paper trains
# 200). Variant B was stopped after 15 minutes without finishing an epoch, for CPU.
# Issue 14's LeNet-5 targets (>= 200x at <= 0.80%, >= 400x at <= 1.00%) are NOT met.
# Usage: bench/issue14/lenet-5.sh [RUNS_DIR]   (hours on 2 busy cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/issue14}
shrink="cargo run --release -q -p shrink --"
mkdir -p "$runs"
# 0. The dense LeNet-5 (zoo spec, 4 epochs of its cosine schedule; 99.27% validation
#    accuracy, 0.65% test error here).
[ -f "$runs/l5-dense/model.safetensors" ] ||
  $shrink train zoo/lenet-5.toml --data mnist --out "$runs/l5-dense" --epochs 4
# 1. Sparse VD (2 epochs), remove_units, sharing, half precision, version 2.
for v in a b; do
  settings=bench/issue14/lenet-5-vd.toml
  [ "$v" = b ] && settings=bench/issue14/lenet-5-vd-b.toml
  python3 bench/issue14/with_settings.py "$runs/l5-dense" "$settings" "$runs/l5-vd-in-$v"
  $shrink compress "$runs/l5-vd-in-$v" --data mnist --out "$runs/l5-vd-$v"
  $shrink info "$runs/l5-vd-$v/model.shrk"
  $shrink eval "$runs/l5-vd-$v/model.shrk" --data mnist
done
