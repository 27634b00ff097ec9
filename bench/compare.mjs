// Compares two stored runs, to check that a rerun agrees within noise:
//   node bench/compare.mjs bench/results/<a>.json bench/results/<b>.json
// Prints, per contender, the headline medians of both runs and their ratios to the vanilla floor.
import { readFileSync } from "node:fs";

const [a, b] = process.argv.slice(2).map((p) => JSON.parse(readFileSync(p, "utf8")));
if (!a || !b) {
  console.error("usage: node bench/compare.mjs A.json B.json");
  process.exit(2);
}
const metrics = {
  "visible 1× ms": (r, id) => r.contenders[id]?.summary[1].visible.median,
  "visible 4× ms": (r, id) => r.contenders[id]?.summary[4].visible.median,
  "script 1× ms": (r, id) => r.contenders[id] && r.contenders[id].summary[1].script - r.contenders.blank.summary[1].script,
  "script 4× ms": (r, id) => r.contenders[id] && r.contenders[id].summary[4].script - r.contenders.blank.summary[4].script,
  "brotli before card": (r, id) => r.contenders[id]?.bytes.beforeCard.total.brotli,
  "track µs": (r, id) => r.contenders[id]?.summary.calls?.trackUs,
  "track + end of task µs": (r, id) => r.contenders[id]?.summary.calls?.trackTaskUs,
};
const f = (x) => (x == null ? "—" : x >= 100 ? Math.round(x).toString() : x.toFixed(1));
const pct = (x, y) => (x == null || y == null ? "" : `${y >= x ? "+" : ""}${Math.round(((y - x) / x) * 100)}%`);
const others = (r) => (r.kept?.length ? `other processes ${Math.min(...r.kept).toFixed(2)}–${Math.max(...r.kept).toFixed(2)} cores in the kept rounds` : "");
console.log(`A: ${a.machine.date} ${a.machine.commit} ${others(a)}`);
console.log(`B: ${b.machine.date} ${b.machine.commit} ${others(b)}`);
for (const [name, get] of Object.entries(metrics)) {
  console.log(`\n${name.padEnd(22)} ${"A".padStart(8)} ${"B".padStart(8)} ${"B vs A".padStart(7)}   ${"A/floor".padStart(8)} ${"B/floor".padStart(8)}`);
  for (const id of Object.keys(a.contenders).filter((id) => id !== "blank")) {
    const x = get(a, id), y = get(b, id), fa = get(a, "vanilla"), fb = get(b, "vanilla");
    if (x == null && y == null) continue;
    const ra = x != null && fa ? (x / fa).toFixed(2) : "—", rb = y != null && fb ? (y / fb).toFixed(2) : "—";
    console.log(`  ${id.padEnd(20)} ${f(x).padStart(8)} ${f(y).padStart(8)} ${pct(x, y).padStart(7)}   ${ra.padStart(8)} ${rb.padStart(8)}`);
  }
}
