#!/usr/bin/env bash
# Collector ingest benchmark (not a test): builds release, starts the collector
# on 127.0.0.1 with a fresh data directory and one project whose rate limit is
# out of the way, runs crates/collector/examples/load.rs against it, and writes
# the "Collector ingest" section of BENCHMARKS.md (other sections are kept).
#
#   scripts/bench-collector.sh     # 10 s with 1 connection, then 10 s with 8; batches of 100
#   BENCH_SECONDS=30 BENCH_CONNECTIONS="1 8 32" BENCH_BATCH=100 scripts/bench-collector.sh
#   NO_WRITE=1 scripts/bench-collector.sh      # print only, leave BENCHMARKS.md alone
#
# Only 127.0.0.1 is used; the run is bounded by time (and a batch count).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-10}"
# One run per connection count: 1 shows the latency of an unloaded collector,
# more show the sustained throughput.
connections="${BENCH_CONNECTIONS:-1 8}"
batch="${BENCH_BATCH:-100}"
target="${CARGO_TARGET_DIR:-target}"

echo "==> building (release)" >&2
cargo build --release -q -p touchpoint-collector --bin touchpoint-collector --example load

work="$(mktemp -d)"
collector_pid=""
cleanup() {
  if [[ -n "$collector_pid" ]] && kill -0 "$collector_pid" 2>/dev/null; then
    kill -TERM "$collector_pid" 2>/dev/null || true
    wait "$collector_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/projects.json" <<'EOF'
[{"public_key": "pk_bench", "secret_key": "sk_bench_7c1e9a3f5b2d8e4a6c0f", "allowed_origins": ["http://127.0.0.1:*"],
  "rate_limit": {"events_per_second": 10000000, "burst": 10000000}}]
EOF

"$target/release/touchpoint-collector" --addr 127.0.0.1:0 --projects "$work/projects.json" \
  --data-dir "$work/data" --surveys-dir surveys --www-dir "$work/no-www" --pkg-dir "$work/no-pkg" \
  >"$work/stdout" 2>"$work/stderr" &
collector_pid=$!
port=""
for _ in $(seq 100); do
  port="$(sed -n 's|^touchpoint-collector listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$work/stdout")"
  [[ -n "$port" ]] && break
  kill -0 "$collector_pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "collector did not start" >&2; cat "$work/stderr" >&2; exit 1; }

rows=""
for c in $connections; do
  echo "==> load: ${seconds} s, ${c} connection(s), batches of ${batch} events, 127.0.0.1:${port}" >&2
  "$target/release/examples/load" --port "$port" --key pk_bench --connections "$c" --batch "$batch" \
    --seconds "$seconds" --max-batches 10000000 | tee "$work/result"
  get() { sed -n "s/^$1=//p" "$work/result"; }
  rows+="| $(get connections) | $(get batch_size) | **$(get events_per_s)** | $(get p50_ms) | $(get p99_ms) | $(get max_ms) | $(get requests) | $(get events_accepted) in $(get elapsed_s) s | $(get failures) |"$'\n'
  batch_bytes="$(get batch_bytes)"
done
kill -TERM "$collector_pid"
wait "$collector_pid"
collector_pid=""

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git diff --quiet HEAD -- crates/collector 2>/dev/null; then commit="$commit with local changes to crates/collector"; fi
section="$(cat <<EOF
## Collector ingest

\`POST /v1/events\` into SQLite (WAL, \`synchronous = FULL\`, group commit), release build, collector
and load generator on the same machine over 127.0.0.1, ${seconds} s per run, one collector process
for all runs (a fresh data directory at the start).

| Connections | Batch (events) | Events/s sustained | p50 ms | p99 ms | max ms | Requests | Events accepted | Failed requests |
|---|---|---|---|---|---|---|---|---|
${rows}
- Machine: $(nproc) cores ($cpu), measured $(date -u +%Y-%m-%d) at commit ${commit}.
- Load: keep-alive HTTP/1.1 connections, each sending its next batch as soon as the previous one
  is answered; a batch is ${batch} \`track\` events with three props (${batch_bytes} bytes of JSON).
  Latency is per request, from writing the request to reading the whole answer.
- Every event id is new (every event is a real insert), and every answer is checked: a request
  counts as failed unless it is a 200 with all its events \`accepted\`.
- The load generator (\`crates/collector/examples/load.rs\`) shares the cores with the collector,
  so these are floors for the collector alone.

Rerun: \`scripts/bench-collector.sh\` (vary with \`BENCH_SECONDS=30 BENCH_CONNECTIONS="1 8 32" BENCH_BATCH=100\`;
\`NO_WRITE=1\` prints without touching this file). It rewrites only this section.
EOF
)"

if [[ -n "${NO_WRITE:-}" ]]; then
  printf '\n%s\n' "$section"
  exit 0
fi
# Replace the section (from its heading to the next "## " heading) or append it.
if [[ -f BENCHMARKS.md ]]; then
  SECTION="$section" awk '
    /^## Collector ingest$/ { print ENVIRON["SECTION"]; skipping = 1; done = 1; next }
    skipping && /^## / { skipping = 0; print "" }
    !skipping { print }
    END { if (!done) { print ""; print ENVIRON["SECTION"] } }
  ' BENCHMARKS.md >"$work/BENCHMARKS.md"
else
  printf '# Benchmarks\n\nMeasured on this project'"'"'s reference machine; every number here comes from a script in scripts/.\n\n%s\n' "$section" >"$work/BENCHMARKS.md"
fi
mv "$work/BENCHMARKS.md" BENCHMARKS.md
echo "==> wrote the Collector ingest section of BENCHMARKS.md" >&2
