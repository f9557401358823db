#!/usr/bin/env bash
# Issue 14, LeNet-300-100 on MNIST: sparse variational dropout, then one magnitude
# pruning round, dead-unit removal and bias codebooks. Measured (2026-11-30, under load
# of 7 helpers, 2 cores): stage 1 74.1x at 1.35% test error (14 388 bytes); stage 2
# 104.8x at 1.57% (10 178 bytes), test error of the .shrk run by shrink-runtime.
# Usage: bench/issue14/lenet-300-100.sh [RUNS_DIR]  (about an hour on 2 busy cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs/issue14}
shrink="cargo run --release -q -p shrink --"
mkdir -p "$runs"
# 0. the dense net (zoo settings, 30 epochs; `shrink demo` trains the same one)
[ -f "$runs/dense/model.safetensors" ] ||
  $shrink train zoo/lenet-300-100.toml --data mnist --out "$runs/dense"
# 1. sparse VD from the dense weights (12 epochs), then the spec's [compress] weight
#    sharing (fc 4 bits), centroid fine-tuning and Huffman coding
$shrink compress "$runs/dense" --data mnist --out "$runs/vd" --method sparse-vd --vd-epochs 12
# 2. the sparse model as the base of one more pruning round (settings in stage2.toml)
rm -rf "$runs/vd-pruned"
cp -r "$runs/vd/pruned" "$runs/vd-pruned"
cat bench/issue14/lenet-300-100-stage2.toml >> "$runs/vd-pruned/spec.toml"
$shrink compress "$runs/vd-pruned" --data mnist --out "$runs/vd-2"
