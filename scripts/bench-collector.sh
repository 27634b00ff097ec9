#!/usr/bin/env bash
# Collector benchmarks (not tests), each writing its own section of
# BENCHMARKS.md (other sections are kept):
#
# 1. "Collector ingest": builds release, starts the collector on 127.0.0.1 with
#    a fresh data directory and one project whose rate limit is out of the way,
#    runs crates/collector/examples/load.rs against it.
# 2. "Collector at scale": crates/collector/examples/scale.rs stores 10 000 and
#    then 1 000 000 events (accounts.json and checklists.json loaded as in the
#    demo), then measures the accounts worker's CPU per pass and peak memory,
#    and GET /v1/config with 40 concurrent readers; on SQLite, and on Postgres
#    too when DATABASE_URL is set (a schema of its own per size).
#
#   scripts/bench-collector.sh     # ingest: 3 runs of 10 s with 1 connection, then 3 with 8; then the scale runs
#   BENCH_SECONDS=30 BENCH_CONNECTIONS="1 8 32" BENCH_BATCH=100 scripts/bench-collector.sh
#   BENCH_SCALE_EVENTS="10000 1000000" BENCH_PG_EVENTS="10000 1000000" BENCH_READERS=40 scripts/bench-collector.sh
#   SKIP_INGEST=1 scripts/bench-collector.sh   # only the scale runs (SKIP_SCALE=1: only ingest)
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
# Runs per store and connection count, one after the other on the same
# store: a single 10 s run lands on a checkpoint or on a neighbour's burst
# or not, so every run is shown and the median is the figure.
runs="${BENCH_RUNS:-3}"
target="${CARGO_TARGET_DIR:-target}"

echo "==> building (release)" >&2
cargo build --release -q -p touchpoint-collector --bin touchpoint-collector --example load --example scale

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

# Replaces the section headed "## $1" (up to the next "## " heading) with $2, or appends it.
write_section() {
  local heading="$1" section="$2"
  if [[ -n "${NO_WRITE:-}" ]]; then
    printf '\n%s\n' "$section"
    return
  fi
  if [[ -f BENCHMARKS.md ]]; then
    HEADING="## $heading" SECTION="$section" awk '
      $0 == ENVIRON["HEADING"] { print ENVIRON["SECTION"]; skipping = 1; done = 1; next }
      skipping && /^## / { skipping = 0; print "" }
      !skipping { print }
      END { if (!done) { print ""; print ENVIRON["SECTION"] } }
    ' BENCHMARKS.md >"$work/BENCHMARKS.md"
  else
    printf '# Benchmarks\n\nMeasured on this project'"'"'s reference machine; every number here comes from a script in scripts/.\n\n%s\n' "$section" >"$work/BENCHMARKS.md"
  fi
  mv "$work/BENCHMARKS.md" BENCHMARKS.md
  echo "==> wrote the $heading section of BENCHMARKS.md" >&2
}

if [[ -z "${SKIP_INGEST:-}" ]]; then
cat >"$work/projects.json" <<'EOF'
[{"public_key": "pk_bench", "secret_key": "sk_bench_7c1e9a3f5b2d8e4a6c0f", "allowed_origins": ["http://127.0.0.1:*"],
  "rate_limit": {"events_per_second": 10000000, "burst": 10000000},
  "client_limits": {"events_per_second": 10000000, "event_burst": 10000000, "reads_per_second": 20, "read_burst": 200}}]
EOF

# One collector per store, with the repository's accounts.json and checklists.json loaded as in the
# demo (so ingest also marks the accounts worker's changes and the person facts).
rows=""
medians=""
# The middle value of newline-separated numbers (the lower middle of an even count).
median() { printf '%s' "$1" | sort -g | sed -n "$(( ($(printf '%s' "$1" | grep -c .) + 1) / 2 ))p"; }
ingest_run() {
  local backend="$1"
  shift
  "$target/release/touchpoint-collector" --addr 127.0.0.1:0 --projects "$work/projects.json" \
    --data-dir "$work/data" --surveys-dir surveys --www-dir "$work/no-www" --pkg-dir "$work/no-pkg" \
    --accounts accounts.json --checklists checklists.json "$@" \
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
  for c in $connections; do
    local rates="" p99s=""
    for run in $(seq "$runs"); do
      echo "==> load: $backend, run $run of $runs, ${seconds} s, ${c} connection(s), batches of ${batch} events, 127.0.0.1:${port}" >&2
      "$target/release/examples/load" --port "$port" --key pk_bench --connections "$c" --batch "$batch" \
        --seconds "$seconds" --max-batches 10000000 | tee "$work/result"
      get() { sed -n "s/^$1=//p" "$work/result"; }
      rows+="| $backend | $(get connections) | $run | $(get batch_size) | $(get events_per_s) | $(get p50_ms) | $(get p99_ms) | $(get max_ms) | $(get requests) | $(get events_accepted) in $(get elapsed_s) s | $(get failures) |"$'\n'
      rates+="$(get events_per_s)"$'\n'
      p99s+="$(get p99_ms)"$'\n'
      batch_bytes="$(get batch_bytes)"
    done
    medians+="| $backend | $c | **$(median "$rates")** | $(printf '%s' "$rates" | sort -g | head -n1) | **$(median "$p99s")** | $(printf '%s' "$p99s" | sort -g | tail -n1) |"$'\n'
  done
  kill -TERM "$collector_pid"
  wait "$collector_pid"
  collector_pid=""
  # The next store starts from nothing, and not while the kernel still
  # writes this one's pages back: it would share the disk and the cores.
  rm -rf "$work/data"
  sync
}
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
pg_note=""
ingest_run SQLite
if [[ -n "${DATABASE_URL:-}" ]]; then
  # A fresh schema of its own, so the run starts from an empty store as SQLite's does.
  psql -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS touchpoint_bench_ingest CASCADE; CREATE SCHEMA touchpoint_bench_ingest" >&2
  sep="?"; [[ "$DATABASE_URL" == *"?"* ]] && sep="&"
  pg_note=" and into Postgres $(psql -tA "$DATABASE_URL" -c 'SHOW server_version' | cut -d' ' -f1) (fsync \`$(psql -tA "$DATABASE_URL" -c 'SHOW fsync')\`, synchronous_commit \`$(psql -tA "$DATABASE_URL" -c 'SHOW synchronous_commit')\`, on the same machine)"
  ingest_run Postgres --database-url "${DATABASE_URL}${sep}options=-c%20search_path%3Dtouchpoint_bench_ingest"
fi

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git diff --quiet HEAD -- crates/collector 2>/dev/null; then commit="$commit with local changes to crates/collector"; fi
section="$(cat <<EOF
## Collector ingest

\`POST /v1/events\` into SQLite (WAL, \`synchronous = FULL\`, group commit)${pg_note}, release build,
collector and load generator on the same machine over 127.0.0.1, ${seconds} s per run and ${runs} runs per
connection count one after the other, one collector
process per store (a fresh data directory or schema at the start), with the repository's
\`accounts.json\` and \`checklists.json\` loaded as in the demo.

| Store | Connections | Median events/s of ${runs} runs | Lowest events/s | Median p99 ms | Highest p99 ms |
|---|---|---|---|---|---|
${medians}
Every run:

| Store | Connections | Run | Batch (events) | Events/s sustained | p50 ms | p99 ms | max ms | Requests | Events accepted | Failed requests |
|---|---|---|---|---|---|---|---|---|---|---|
${rows}
- Machine: $(nproc) cores ($cpu), measured $(date -u +%Y-%m-%d) at commit ${commit}; load average
  ${load_before} before and $(cut -d' ' -f1-3 /proc/loadavg) after (well above 0: other work shared the cores).
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

write_section "Collector ingest" "$section"
fi

if [[ -z "${SKIP_SCALE:-}" ]]; then
  readers="${BENCH_READERS:-40}"
  scale_seconds="${BENCH_SCALE_SECONDS:-10}"
  passes="${BENCH_PASSES:-20}"
  cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if ! git diff --quiet HEAD -- crates/collector 2>/dev/null; then commit="$commit with local changes to crates/collector"; fi
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
  scale_rows=""
  # One store per size: fill (ingest, then the worker catching up), then measure in a fresh process.
  scale_run() {
    local backend="$1" events="$2"
    shift 2
    echo "==> scale: $backend, $events events" >&2
    "$target/release/examples/scale" fill --events "$events" "$@" | tee "$work/fill"
    "$target/release/examples/scale" measure --readers "$readers" --seconds "$scale_seconds" --passes "$passes" "$@" \
      | tee "$work/measure"
    get() { sed -n "s/^$1=//p" "$work/fill" "$work/measure"; }
    scale_rows+="| $backend | $(get events_stored) | $(get pass_other_project_cpu_ms) / $(get pass_other_project_wall_ms) | $(get pass_same_project_cpu_ms) / $(get pass_same_project_wall_ms) | $(get pass_same_project_rows_read) | $(get peak_rss_after_passes_mb) | $(get config_p50_ms) | **$(get config_p99_ms)** | $(get config_max_ms) | $(get config_requests) | $(get checklists_first_read_s) | $(get checklists_p50_ms) | **$(get checklists_p99_ms)** | $(get checklists_max_ms) | $(get checklists_requests) | $(get peak_rss_mb) |"$'\n'
  }
  for n in ${BENCH_SCALE_EVENTS:-10000 1000000}; do
    scale_run SQLite "$n" --data-dir "$work/scale-$n"
    rm -rf "$work/scale-$n"
  done
  if [[ -n "${DATABASE_URL:-}" ]]; then
    for n in ${BENCH_PG_EVENTS:-10000 1000000}; do
      scale_run Postgres "$n" --database-url "$DATABASE_URL" --schema "touchpoint_bench_$n"
    done
  fi
  load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
  section="$(cat <<EOF
## Collector at scale

The accounts worker, \`GET /v1/config\` and \`GET /v1/checklists/state\` as history grows. \`crates/collector/examples/scale.rs\`
stores the events through the collector's ingest path (project \`pk_big\`: accounts of five users with
100 events each, and one user with 30 000 events; project \`pk_small\`: one account), with the
repository's \`accounts.json\` and \`checklists.json\` loaded as in the demo, and lets the accounts worker
catch up. Then, in a fresh process: ${passes} worker passes, each after one new event (to the other project,
as when another customer's traffic wakes the worker; then to one account of the big project), and
${readers} keep-alive connections reading \`/v1/config\` for the 30 000-event user for ${scale_seconds} s, then
\`/v1/checklists/state\` likewise (the router served in the same process, on 127.0.0.1). The first checklist
read of the project indexes its checklist rules from the stored events (once per rule); it is timed alone.

| Store | Events stored | Pass CPU / wall ms (event to the other project) | Pass CPU / wall ms (event to this project) | Rows read per pass | Peak RSS after the passes, MB | /v1/config p50 ms | p99 ms | max ms | Requests | First checklist read, s | /v1/checklists/state p50 ms | p99 ms | max ms | Requests | Peak RSS, MB |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${scale_rows}
- Machine: $(nproc) cores ($cpu), measured $(date -u +%Y-%m-%d) at commit ${commit}. Load average
  ${load_before} before and ${load_after} after: the machine is shared, and other work was running
  whenever these are well above 0.
- Pass CPU is every thread of the measuring process (\`/proc/self/task/*/schedstat\`) during the pass,
  averaged over the passes; on Postgres the database server's CPU is not included. Peak RSS is the
  process' \`VmHWM\`.
- The readers and the collector share the cores.

Rerun: \`SKIP_INGEST=1 scripts/bench-collector.sh\` (\`BENCH_SCALE_EVENTS\`, \`BENCH_PG_EVENTS\`,
\`BENCH_READERS\`, \`BENCH_SCALE_SECONDS\`, \`BENCH_PASSES\`; Postgres too with \`DATABASE_URL\`).
EOF
)"
  write_section "Collector at scale" "$section"
fi
