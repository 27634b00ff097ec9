#!/usr/bin/env bash
# Builds everything and runs the demo: the collector (SQLite in ./data) serving
# the demo SaaS app with the widget at http://127.0.0.1:8787/ (TOUCHPOINT_ADDR to change).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
addr="${TOUCHPOINT_ADDR:-127.0.0.1:8787}"
printf '\n\033[1m==> demo: open http://%s/ (Ctrl-C to stop)\033[0m\n' "$addr"
exec target/release/touchpoint-collector --addr "$addr" --data-dir data --surveys-dir surveys --www-dir www --pkg-dir pkg
