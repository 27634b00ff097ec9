#!/usr/bin/env bash
# The sample app type-checks under --strict, and each line of misuse.ts marked as a
# mistake is rejected: the declarations in pkg/index.d.ts are precise, not `any`.
# Then the same with event types generated from a projects file by
# `touchpoint-collector types` (typed/): declared events pass, a misspelled one fails.
set -euo pipefail
cd "$(dirname "$0")"
tsc=../../node_modules/.bin/tsc

# Runs tsc on $1 (must pass) and $2 (must fail exactly on the lines of $3 that carry a comment).
check() {
  local ok=$1 bad=$2 bad_src=$3
  "$tsc" -p "$ok"
  echo "tsc --strict: $ok type-checks"
  local out
  if out=$("$tsc" -p "$bad" 2>&1); then
    echo "tsc accepted $bad_src; the declarations are too loose" >&2
    exit 1
  fi
  local expected got name
  name=$(basename "$bad_src")
  expected=$(grep -n '// ' "$bad_src" | grep -v '^[12]:' | cut -d: -f1 | sort -n | tr '\n' ' ')
  got=$(printf '%s\n' "$out" | grep -o "$name([0-9]*" | cut -d'(' -f2 | sort -un | tr '\n' ' ')
  if [ "$expected" != "$got" ]; then
    printf 'tsc should reject lines %s of %s, rejected %s:\n%s\n' "$expected" "$bad_src" "$got" "$out" >&2
    exit 1
  fi
  echo "tsc --strict: every misuse in $bad_src is rejected (lines $got)"
}

check tsconfig.json tsconfig.misuse.json misuse.ts

collector=${TOUCHPOINT_COLLECTOR:-../../target/release/touchpoint-collector}
"$collector" types --projects typed/projects.json > typed/touchpoint-events.d.ts
check typed/tsconfig.json typed/tsconfig.misuse.json typed/misuse.ts
