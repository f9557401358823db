#!/usr/bin/env bash
# Build the page's WebAssembly module (crates/shrink-wasm: the C ABI of crates/shrink-capi
# compiled to wasm32) and copy it next to the page.
# Needs only cargo and the wasm32-unknown-unknown target (`rustup target add
# wasm32-unknown-unknown`). View the page with any static server, e.g.
#   python3 -m http.server -d web 8000   # then open http://127.0.0.1:8000/
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile wasm -p shrink-wasm --target wasm32-unknown-unknown
target="${CARGO_TARGET_DIR:-target}"
cp "$target/wasm32-unknown-unknown/wasm/shrink_wasm.wasm" web/shrink_wasm.wasm
wc -c web/shrink_wasm.wasm
