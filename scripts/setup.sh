#!/usr/bin/env bash
# Installs what building and testing need, skipping whatever is already there.
#   scripts/setup.sh            toolchain for the wasm build + npm dev deps
#   scripts/setup.sh --browser  also Debian's chromium + chromium-driver (for tests), and
#                               Debian's postgresql (the collector suite also runs on Postgres)
# Everything comes from the package registries (crates.io, npm, Debian); no
# browser or binary is downloaded from anywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(.tools/bin/wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want into .tools/ (takes a few minutes once)"
  cargo install --root .tools wasm-bindgen-cli --version "$want"
fi

# npm's binaryen, not Debian's: Debian's wasm-opt 108 corrupts wasm-bindgen output.
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/@playwright/test ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dev dependencies"
  npm ci --no-audit --no-fund
fi

if [ "${1:-}" = "--browser" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  say "installing Debian's chromium and chromium-driver"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver
fi

# scripts/test.sh runs the collector suite a second time on Postgres,
# in a throwaway cluster of Debian's postgresql (nothing is started here).
if [ "${1:-}" = "--browser" ] && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  say "installing Debian's postgresql"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql
fi
