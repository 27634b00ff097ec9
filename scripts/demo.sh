#!/usr/bin/env bash
# Builds everything and runs the demo: the collector (SQLite in ./data) serving
# the demo SaaS app with the widget at http://127.0.0.1:8787/ (TOUCHPOINT_ADDR to change; an address
# other than loopback also needs TOUCHPOINT_DEMO=1, as the demo secret key is in the source),
# the dashboard at /dashboard (secret key sk_demo), and the demo automations
# (emails land as .eml files in ./data/outbox; webhooks go to 127.0.0.1:8788).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
addr="${TOUCHPOINT_ADDR:-127.0.0.1:8787}"
printf '\n\033[1m==> demo: open http://%s/ — dashboard at http://%s/dashboard with key sk_demo (Ctrl-C to stop)\033[0m\n' "$addr" "$addr"
# --dist-dir: the widget as a deployment serves it (hashed, precompressed); --dev: nothing cached,
# so an edited page shows on the next load.
exec target/release/touchpoint-collector --addr "$addr" --data-dir data --surveys-dir surveys --www-dir www --dist-dir dist --dev \
  --checklists checklists.json --help-dir help --automations automations.json --targeting targeting.json
