#!/usr/bin/env bash
# Where the widget's wasm bytes go, by crate family, for each of its two modules (the first, loaded
# before the survey, and the panels'): builds them as scripts/build.sh does but keeps the function
# names (wasm-opt -g), then groups twiggy's per-item sizes. Installs twiggy from crates.io
# if it is missing. Prints a markdown table; the names section itself is not counted.
#   scripts/wasm-bytes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
command -v twiggy >/dev/null || cargo install twiggy --locked --version 0.8.0
out=$(mktemp -d)
cargo build -p touchpoint -p touchpoint-views --profile wasm-release --target wasm32-unknown-unknown
for name in touchpoint touchpoint_views; do
.tools/bin/wasm-bindgen --target web --out-dir "$out" --out-name "$name" "target/wasm32-unknown-unknown/wasm-release/$name.wasm"
node_modules/.bin/wasm-opt -Oz -g \
  --enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-reference-types --enable-multivalue --enable-mutable-globals \
  "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
twiggy top -n 1000000 -f csv "$out/${name}_bg.wasm" > "$out/top.csv"
echo "### $name"
node - "$out/top.csv" "$(git rev-parse --short HEAD)" <<'JS'
const [file, commit] = process.argv.slice(2);
const lines = require("node:fs").readFileSync(file, "utf8").trim().split("\n").slice(1);
// First match wins: Leptos before the widget crate (its view code is named after Leptos types).
const families = [
  ["Leptos (tachys, reactive_graph, leptos, any_spawner, …)", /tachys|reactive_graph|leptos|any_spawner|either_of|send_wrapper|guardian|slotmap|or_poisoned|throw_error|oco_ref|next_tuple/],
  ["serde_json", /serde_json/],
  ["serde (derived impls, serde_core)", /serde_core|serde::|impl serde|Deserialize|Serialize/],
  ["touchpoint_core (survey, checklist, targeting, help, …)", /touchpoint_core/],
  ["touchpoint_protocol", /touchpoint_protocol/],
  ["the crate itself (widget: sdk, outbox, card; panels: the views)", /touchpoint::|touchpoint_views::/],
  ["wasm-bindgen, js-sys, web-sys bindings", /wasm_bindgen|js_sys|web_sys|externref|__wbg|__wbindgen/],
  ["std, core, alloc (incl. generic code they instantiate for all of the above)", /core\[|core::|alloc::|alloc\[|std::|std\[|dlmalloc|__rust|__rdl|compiler_builtins|hashbrown|memcpy|memset|memmove|memcmp/],
];
const sums = new Map(); let total = 0;
for (const line of lines) {
  const m = line.match(/^"?(.*?)"?,(\d+),/);
  if (!m) continue;
  const [name, size] = [m[1], Number(m[2])];
  if (/subsection|custom section/.test(name)) continue;
  const fam = name.startsWith("data segment") ? "data (strings, tables)" : (families.find(([, re]) => re.test(name))?.[0] ?? "other (unnamed)");
  sums.set(fam, (sums.get(fam) ?? 0) + size);
  total += size;
}
console.log(`Built at ${commit}, size profile, wasm-opt -Oz with names kept for the count (the names themselves excluded): ${total.toLocaleString("en")} bytes.\n`);
console.log("| Part | Bytes | Share |\n|---|--:|--:|");
for (const [k, v] of [...sums].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${v.toLocaleString("en")} | ${(100 * v / total).toFixed(1)}% |`);
JS
echo
done
rm -rf "$out"
