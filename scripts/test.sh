#!/usr/bin/env bash
# Runs every test: formatting and lints, host unit/integration tests (core,
# protocol, collector), then the release build and the end-to-end tests in
# real headless Chromium against the real collector on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "rustfmt and clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p touchpoint --target wasm32-unknown-unknown -- -D warnings

say "host tests (cargo test)"
cargo test --workspace

scripts/build.sh

say "TypeScript declarations (tsc --strict on a sample app)"
tests/typescript/check.sh

say "end-to-end tests (Playwright, Debian chromium)"
mkdir -p tests/artifacts
npx playwright test
echo "screenshots: tests/artifacts/"
