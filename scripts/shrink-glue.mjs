// Shrinks one wasm-bindgen module pair in place (pkg/<name>.js + pkg/<name>_bg.wasm), after
// wasm-opt, without changing what either does:
//
// - Import names. wasm-bindgen names every import `__wbg_<method>_<16 hex digits>` under the module
//   "./<name>_bg.js", and both the wasm's import section and the glue's import object spell each
//   one out (about 150 imports in the first module: 7.8 KB raw of names in the wasm alone). They
//   are renamed to short base-36 names, the same in both files; the module becomes "a".
// - The glue is minified with terser (comments, whitespace and local names; no property names),
//   keeping the `@ts-self-types` comment that points TypeScript at the declarations.
//
// Every byte before the card is paid by the host page: this is the part of that the compiler does
// not see. Fails loudly if the glue's import object is not where this script expects it, so a
// wasm-bindgen upgrade that changes its shape stops the build rather than shipping a mismatch.
//
//   node scripts/shrink-glue.mjs pkg/touchpoint
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { minify } from "terser";

const stem = process.argv[2];
if (!stem) fail("usage: node scripts/shrink-glue.mjs <dir>/<name> (for <name>.js and <name>_bg.wasm)");
const gluePath = `${stem}.js`;
const wasmPath = `${stem}_bg.wasm`;
const moduleName = `./${basename(stem)}_bg.js`;

const wasm = readFileSync(wasmPath);
let glue = readFileSync(gluePath, "utf8");

const renames = new Map(); // long import name → short name
const shortName = (i) => i.toString(36).replace(/^\d/, (d) => "_" + d);

const sections = readSections(wasm);
const imports = sections.find((s) => s.id === 2);
if (!imports) fail(`${wasmPath} has no import section`);
const rewritten = rewriteImports(wasm.subarray(imports.start, imports.end));
const out = Buffer.concat([
  wasm.subarray(0, imports.headerStart),
  Buffer.from([2]),
  leb(rewritten.length),
  rewritten,
  wasm.subarray(imports.end),
]);

// The glue: `"./<name>_bg.js": import0` and the keys of import0 (`__wbg_…: function(`).
const moduleKey = `"${moduleName}": import0`;
if (!glue.includes(moduleKey)) fail(`${gluePath}: no ${moduleKey} (has wasm-bindgen's glue changed shape?)`);
glue = glue.replace(moduleKey, `"a": import0`);
for (const [long, short] of renames) {
  const key = new RegExp(`(^|\\n)(\\s+)${long}:`, "g");
  const found = glue.match(key);
  if (!found || found.length !== 1) fail(`${gluePath}: import ${long} appears ${found?.length ?? 0} times as a key, expected once`);
  glue = glue.replace(key, `$1$2${short}:`);
}

const min = await minify(glue, {
  module: true,
  compress: { passes: 2 },
  mangle: true,
  format: { comments: /@ts-self-types/ },
});
writeFileSync(wasmPath, out);
writeFileSync(gluePath, min.code + "\n");
console.log(`shrink-glue: ${basename(stem)}: ${renames.size} imports renamed; wasm ${wasm.length} → ${out.length} bytes, glue ${Buffer.byteLength(readFileSync(gluePath))} bytes`);

function rewriteImports(body) {
  let p = 0;
  const count = readLeb();
  const parts = [leb(count)];
  for (let i = 0; i < count; i++) {
    const mod = readName();
    const field = readName();
    const descStart = p;
    const kind = body[p++];
    if (kind === 0) readLeb(); // function: type index
    else if (kind === 1) { p++; readLimits(); } // table: reference type, limits
    else if (kind === 2) readLimits(); // memory
    else if (kind === 3) p += 2; // global: value type, mutability
    else fail(`${wasmPath}: import kind ${kind} not understood`);
    let newMod = mod, newField = field;
    if (mod === moduleName) {
      newMod = "a";
      if (!renames.has(field)) renames.set(field, shortName(renames.size));
      newField = renames.get(field);
    }
    parts.push(name(newMod), name(newField), body.subarray(descStart, p));
  }
  if (p !== body.length) fail(`${wasmPath}: import section has ${body.length - p} bytes left over`);
  return Buffer.concat(parts);

  function readLeb() {
    let r = 0, shift = 0, b;
    do { b = body[p++]; r += (b & 127) * 2 ** shift; shift += 7; } while (b & 128);
    return r;
  }
  function readName() {
    const n = readLeb();
    const s = body.subarray(p, p + n).toString("utf8");
    p += n;
    return s;
  }
  function readLimits() {
    const flags = body[p++];
    readLeb();
    if (flags & 1) readLeb();
  }
}

function readSections(buf) {
  if (buf.readUInt32LE(0) !== 0x6d736100) fail(`${wasmPath} is not a wasm module`);
  const list = [];
  let p = 8;
  while (p < buf.length) {
    const headerStart = p;
    const id = buf[p++];
    let len = 0, shift = 0, b;
    do { b = buf[p++]; len += (b & 127) * 2 ** shift; shift += 7; } while (b & 128);
    list.push({ id, headerStart, start: p, end: p + len });
    p += len;
  }
  return list;
}

function leb(n) {
  const bytes = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 128;
    bytes.push(b);
  } while (n);
  return Buffer.from(bytes);
}

function name(s) {
  const b = Buffer.from(s, "utf8");
  return Buffer.concat([leb(b.length), b]);
}

function fail(msg) {
  console.error(`shrink-glue: ${msg}`);
  process.exit(1);
}
