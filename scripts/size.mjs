// Prints what a host page downloads for the widget: raw, gzip and brotli bytes.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";

const files = ["www/touchpoint.js", "pkg/index.js", "pkg/touchpoint.js", "pkg/touchpoint_bg.wasm"];
let total = { raw: 0, gzip: 0, brotli: 0 };
console.log("file                     raw      gzip    brotli");
for (const f of files) {
  const buf = readFileSync(f);
  const row = {
    raw: buf.length,
    gzip: gzipSync(buf, { level: 9 }).length,
    brotli: brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
  for (const k in total) total[k] += row[k];
  console.log(`${f.padEnd(24)} ${String(row.raw).padStart(7)} ${String(row.gzip).padStart(9)} ${String(row.brotli).padStart(9)}`);
}
console.log(`${"total".padEnd(24)} ${String(total.raw).padStart(7)} ${String(total.gzip).padStart(9)} ${String(total.brotli).padStart(9)}`);

// Subresource Integrity for the script tag (the loader; see README "Content Security Policy").
const sri = "sha384-" + createHash("sha384").update(readFileSync("www/touchpoint.js")).digest("base64");
console.log(`loader SRI: integrity="${sri}"`);
