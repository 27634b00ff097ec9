// Prints what a host page downloads for the widget: raw, gzip and brotli bytes.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";

// What a page downloads before the first survey shows, then what it fetches after the card (the
// checklist and help panels' module), as the collector serves them from dist/ (scripts/dist.mjs:
// the entry and the loader minified, each file with its precompressed .gz and .br).
const manifest = JSON.parse(readFileSync("dist/manifest.json", "utf8"));
const groups = [
  ["before the first survey", ["touchpoint.js", "pkg/index.js", "pkg/touchpoint.js", "pkg/touchpoint_bg.wasm"]],
  ["after the card (panels)", ["pkg/touchpoint_views.js", "pkg/touchpoint_views_bg.wasm"]],
];
const pad = (n) => String(n).padStart(9);
for (const [title, files] of groups) {
  const total = { raw: 0, gzip: 0, brotli: 0 };
  console.log(`${(title + ", as served").padEnd(38)}      raw      gzip    brotli`);
  for (const f of files) {
    const served = `dist/${manifest[f]}`;
    const row = {
      raw: readFileSync(served).length,
      gzip: readFileSync(`${served}.gz`).length,
      brotli: readFileSync(`${served}.br`).length,
    };
    for (const k in total) total[k] += row[k];
    console.log(`  ${f.padEnd(36)} ${pad(row.raw)} ${pad(row.gzip)} ${pad(row.brotli)}`);
  }
  console.log(`  ${"total".padEnd(36)} ${pad(total.raw)} ${pad(total.gzip)} ${pad(total.brotli)}`);
}

// Subresource Integrity for the script tag: the loader as served, which names this build's hashed
// files (see pkg/README.md "Content Security Policy" and crates/collector/README.md "Serving the widget").
const sri = "sha384-" + createHash("sha384").update(readFileSync("dist/touchpoint.js")).digest("base64");
console.log(`loader SRI (dist/touchpoint.js, as served): integrity="${sri}"`);
