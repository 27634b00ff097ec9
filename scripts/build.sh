#!/usr/bin/env bash
# Builds the widget (release wasm, size-optimised, into pkg/; served form in dist/) and the collector.
#   scripts/build.sh          widget + collector (release)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "building the widget and its dock module (wasm, size profile)"
# Two modules: the first (`touchpoint`: the survey card, the queue, the API) loads before the
# card; the second (`touchpoint-views`: checklist, targeting, help, the dock) after it.
cargo build -p touchpoint -p touchpoint-views --profile wasm-release --target wasm32-unknown-unknown
for name in touchpoint touchpoint_views; do
  .tools/bin/wasm-bindgen --target web --out-dir pkg --out-name "$name" \
    --remove-name-section --remove-producers-section \
    "target/wasm32-unknown-unknown/wasm-release/$name.wasm"
  # The features rustc's wasm32 target enables by default; wasm-opt must be told.
  # --converge (repeat until no smaller) only pays on the first module, whose every byte is before the card.
  # --low-memory-unused lets wasm-opt fold constant offsets into loads and stores (516 B brotli off the
  # first module): Rust's wasm32 layout keeps the stack below 1 MiB, growing down, and data above it, so
  # the lowest 1 KiB is only reached by a stack already about to overflow.
  converge=""; [ "$name" = touchpoint ] && converge="--converge --low-memory-unused"
  node_modules/.bin/wasm-opt -Oz $converge \
    --enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-reference-types --enable-multivalue --enable-mutable-globals \
    "pkg/${name}_bg.wasm" -o "pkg/${name}_bg.wasm"
  # Short import names in the wasm and its glue, and the glue minified: about 6 KB brotli per module.
  node scripts/shrink-glue.mjs "pkg/${name}"
done

say "writing dist/: content-hashed names, brotli and gzip copies, the loader naming them"
# What `touchpoint-collector --dist-dir dist` serves; pkg/ keeps its plain names (the npm package).
node scripts/dist.mjs

say "building the collector"
cargo build -p touchpoint-collector --release

node scripts/size.mjs
