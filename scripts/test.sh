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
cargo clippy -p touchpoint-views --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p touchpoint-web --target wasm32-unknown-unknown -- -D warnings

say "host tests (cargo test)"
cargo test --workspace

# The same collector suite on Postgres (DATABASE_URL; each test makes a schema
# of its own), over TLS. A throwaway cluster of Debian's postgresql in a
# temporary directory owned by the postgres user, on 127.0.0.1 only, removed on
# exit, with a certificate from a CA made here (webpki refuses a CA certificate
# as the server's own, so the server's is signed by it, for IP 127.0.0.1).
say "collector tests again, on Postgres over TLS"
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_dir=$(mktemp -d /tmp/touchpoint-pg.XXXXXX)
pg_port=55433
while (exec 3<>"/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null; do pg_port=$((pg_port + 1)); done
stop_postgres() { as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true; as_postgres rm -rf "$pg_dir"; }
trap stop_postgres EXIT
tls="$pg_dir/tls"
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=touchpoint test CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
openssl x509 -req -days 2 -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
  -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
chmod 600 "$tls/server.key"
chmod 755 "$pg_dir" "$tls"
chmod 644 "$tls/ca.crt"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$pg_dir"; else sudo chown -R postgres "$pg_dir"; fi
as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off -c synchronous_commit=off \
   -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" start >/dev/null
as_postgres "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres touchpoint_test
DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/touchpoint_test?sslmode=require" \
  TOUCHPOINT_TEST_PG_CA="$tls/ca.crt" cargo test -p touchpoint-collector
stop_postgres
trap - EXIT

scripts/build.sh

say "TypeScript declarations (tsc --strict on a sample app)"
tests/typescript/check.sh

say "end-to-end tests (Playwright, Debian chromium)"
mkdir -p tests/artifacts
npx playwright test
echo "screenshots: tests/artifacts/"
