#!/usr/bin/env bash
# The sample app type-checks under --strict, and each line of misuse.ts marked as a
# mistake is rejected: the declarations in pkg/index.d.ts are precise, not `any`.
set -euo pipefail
cd "$(dirname "$0")"
tsc=../../node_modules/.bin/tsc
"$tsc" -p tsconfig.json
echo "tsc --strict: the sample app type-checks"
if out=$("$tsc" -p tsconfig.misuse.json 2>&1); then
  echo "tsc accepted misuse.ts; the declarations are too loose" >&2
  exit 1
fi
expected=$(grep -n '// ' misuse.ts | grep -v '^[12]:' | cut -d: -f1 | sort -n | tr '\n' ' ')
got=$(printf '%s\n' "$out" | grep -o 'misuse.ts([0-9]*' | cut -d'(' -f2 | sort -un | tr '\n' ' ')
if [ "$expected" != "$got" ]; then
  printf 'tsc should reject lines %s of misuse.ts, rejected %s:\n%s\n' "$expected" "$got" "$out" >&2
  exit 1
fi
echo "tsc --strict: every misuse is rejected (lines $got)"
