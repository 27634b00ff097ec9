#!/usr/bin/env bash
# Widget benchmark: what Touchpoint costs a host page, side by side with peer libraries, in one run.
# Builds the release artifacts (scripts/build.sh), installs bench/'s pinned npm dependencies, runs
# bench/run.mjs in Debian's headless chromium against pages and collectors on 127.0.0.1, and writes the
# "Widget on the host page" section of BENCHMARKS.md (other sections are kept). About 10–12 minutes.
#
#   scripts/bench.sh
#   BENCH_RUNS=20 BENCH_CALL_REPS=2 scripts/bench.sh   # loads per contender and CPU setting; call-benchmark loads
#   BENCH_ONLY=touchpoint,posthog scripts/bench.sh    # a subset (the floor and the bare host page always run)
#   NO_WRITE=1 scripts/bench.sh                        # print the section instead of writing BENCHMARKS.md
#   SKIP_BUILD=1 scripts/bench.sh                      # measure pkg/ and target/release as they are
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
start=$(date +%s)

if [ -z "${SKIP_BUILD:-}" ]; then
  say "building release artifacts (scripts/build.sh)"
  scripts/build.sh
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
