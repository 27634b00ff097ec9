#!/usr/bin/env bash
# Builds the widget (release wasm, size-optimised, into pkg/) and the collector.
#   scripts/build.sh          widget + collector (release)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "building the widget (wasm, size profile)"
cargo build -p touchpoint --profile wasm-release --target wasm32-unknown-unknown
.tools/bin/wasm-bindgen --target web --out-dir pkg --out-name touchpoint \
  --remove-name-section --remove-producers-section \
  target/wasm32-unknown-unknown/wasm-release/touchpoint.wasm
# The features rustc's wasm32 target enables by default; wasm-opt must be told.
node_modules/.bin/wasm-opt -Oz \
  --enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-reference-types --enable-multivalue --enable-mutable-globals \
  pkg/touchpoint_bg.wasm -o pkg/touchpoint_bg.wasm

say "building the collector"
cargo build -p touchpoint-collector --release

node scripts/size.mjs
