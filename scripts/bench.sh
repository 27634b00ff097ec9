#!/usr/bin/env bash
# Widget benchmark: what Touchpoint costs a host page, side by side with peer libraries, in one run.
# Builds the release artifacts (scripts/build.sh), installs bench/'s pinned npm dependencies, runs
# bench/run.mjs in Debian's headless chromium against pages and collectors on 127.0.0.1, and writes the
# "Widget on the host page" section of BENCHMARKS.md (other sections are kept). About 8 minutes once built.
#
#   scripts/bench.sh
#   BENCH_RUNS=20 BENCH_CALL_REPS=2 scripts/bench.sh   # loads per contender and CPU setting; call-benchmark loads
#   BENCH_ONLY=touchpoint,posthog scripts/bench.sh    # a subset (the floor and the bare host page always run)
#   NO_WRITE=1 scripts/bench.sh                        # print the section instead of writing BENCHMARKS.md
#   SKIP_BUILD=1 scripts/bench.sh                      # measure pkg/, dist/ and target/release as they are (the report names
#                                                      # the last bench.sh build's commit if pkg/ still holds its wasm)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
start=$(date +%s)

if [ -z "${SKIP_BUILD:-}" ]; then
  say "building release artifacts (scripts/build.sh)"
  # What the build sees, recorded first: the report names this commit (and any uncommitted changes)
  # as long as pkg/ still holds this build's wasm.
  BUILT_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  BUILT_DIRTY=$(git status --porcelain -- src crates www pkg Cargo.toml Cargo.lock surveys checklists.json help 2>/dev/null | cut -c4- || true)
  scripts/build.sh
  mkdir -p bench/results
  BUILT_COMMIT="$BUILT_COMMIT" BUILT_DIRTY="$BUILT_DIRTY" node -e '
    const { createHash } = require("node:crypto"), fs = require("node:fs");
    fs.writeFileSync("bench/results/built.json", JSON.stringify({
      commit: process.env.BUILT_COMMIT, dirty: process.env.BUILT_DIRTY.split("\n").filter(Boolean), at: new Date().toISOString(),
      wasmSha256: createHash("sha256").update(fs.readFileSync("pkg/touchpoint_bg.wasm")).digest("hex") }));'
fi

# Debian's chromium; never a downloaded browser.
if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium
fi

say "installing bench/ dependencies (npm ci: peer libraries at pinned versions)"
(cd bench && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

say "measuring (bench/run.mjs)"
node bench/run.mjs
say "done in $(( $(date +%s) - start )) s"
