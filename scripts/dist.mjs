// Writes the widget as it is served (`dist/`, what `touchpoint-collector --dist-dir` serves):
//
//   dist/touchpoint.js           the loader (www/touchpoint.js) naming the hashed entry
//   dist/pkg/<name>.<hash>.<ext> each .js and .wasm of pkg/, references to one another renamed
//   dist/pkg/snippets.<hash>/    wasm-bindgen's JS snippets, if the build has any
//   + a .br (brotli, quality 11) and a .gz (gzip, level 9) next to every file above
//   dist/manifest.json           plain name → served name (for tooling and tests; not served)
//
// Usage: node scripts/dist.mjs [--pkg pkg] [--loader www/touchpoint.js] [--out dist]
//
// Nothing here knows what the files contain: a file refers to another when the other's plain name
// (e.g. `touchpoint_bg.wasm`) appears in its text, not as part of a longer name, and every such
// occurrence is replaced by the hashed name. A file's hash covers its own bytes and those of every
// file it refers to, directly or not, so a change anywhere renames everything that leads to it (a
// new wasm renames its glue, the entry that imports the glue, and changes the loader).
//
// pkg/ keeps its plain names: it is the npm package. The loader keeps its stable URL; its content
// changes with every build, so caches revalidate it (see the collector's `routes::assets`).
// The entry and the loader are served minified (terser: whitespace, comments but `/*!`, local names);
// pkg/ and www/ keep the readable source. The glues are minified already (`shrink-glue.mjs`).
// Hashed files of earlier builds stay for a day: a page that loaded the previous loader (cached
// for up to --max-age) may still ask for them, e.g. the panels' module when a panel first opens.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { minify } from "terser";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const opts = { pkg: join(root, "pkg"), loader: join(root, "www/touchpoint.js"), out: join(root, "dist") };
for (let args = process.argv.slice(2); args.length; ) {
  const [flag, value] = args.splice(0, 2);
  const key = flag.replace(/^--/, "");
  if (!(key in opts) || value === undefined) {
    console.error(`dist.mjs: unknown or incomplete argument ${flag} (use --pkg DIR, --loader FILE, --out DIR)`);
    process.exit(2);
  }
  opts[key] = resolve(value);
}

/** How long files of earlier builds are kept in dist/pkg. */
const KEEP_MS = 24 * 60 * 60 * 1000;
const HASH_DIGITS = 10;

const names = readdirSync(opts.pkg).filter((n) => /\.(js|wasm)$/.test(n) && statSync(join(opts.pkg, n)).isFile()).sort();
if (!names.includes("index.js")) fail(`${opts.pkg} has no index.js: build the widget first (scripts/build.sh)`);
const raw = new Map(names.map((n) => [n, readFileSync(join(opts.pkg, n))]));
const isText = (n) => n.endsWith(".js");

// wasm-bindgen's JS snippets (`#[wasm_bindgen(inline_js / module)]`), if any, are imported by the
// glue as `./snippets/<crate>-<id>/…`: the folder is copied whole (uncompressed) under a name hashed from all of
// its files (`snippets.<hash>/`), and `snippets/` is renamed in the files that refer to it.
const SNIPPETS = "snippets/";
const snippetFiles = existsSync(join(opts.pkg, "snippets")) ? walk(join(opts.pkg, "snippets")) : [];
if (snippetFiles.length) {
  const h = createHash("sha256");
  for (const f of snippetFiles) h.update(f).update("\0").update(readFileSync(join(opts.pkg, "snippets", f))).update("\0");
  names.push(SNIPPETS);
  raw.set(SNIPPETS, Buffer.from(h.digest("hex")));
}

// A plain name, not preceded or followed by a character that would make it part of a longer name.
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const alternatives = [...names].sort((a, b) => b.length - a.length).map((n) => (n === SNIPPETS ? escape(n) : `${escape(n)}(?![\\w$-])`));
const reference = new RegExp(`(?<![\\w$.-])(${alternatives.join("|")})`, "g");
const refersTo = (text) => new Set([...text.matchAll(reference)].map((m) => m[1]));

const refs = new Map(names.map((n) => [n, isText(n) ? refersTo(raw.get(n).toString("utf8")) : new Set()]));
function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const r of refs.get(name)) closure(r, seen);
  return seen;
}
// Part of every hash: how the served bytes are made from pkg/ (a change here renames every file).
const FORM = "served/2: terser";
const served = new Map();
for (const n of names) {
  const h = createHash("sha256").update(FORM).update("\0").update(n).update("\0");
  for (const m of [...closure(n)].sort()) h.update(m).update("\0").update(raw.get(m)).update("\0");
  const hash = h.digest("hex").slice(0, HASH_DIGITS);
  const dot = n === SNIPPETS ? n.length - 1 : n.lastIndexOf(".");
  served.set(n, `${n.slice(0, dot)}.${hash}${n.slice(dot)}`);
}
const rename = (text) => text.replace(reference, (_, name) => served.get(name));

const outPkg = join(opts.out, "pkg");
mkdirSync(outPkg, { recursive: true });
const written = new Set();
if (snippetFiles.length) {
  const dir = served.get(SNIPPETS).slice(0, -1);
  written.add(dir);
  for (const f of snippetFiles) {
    mkdirSync(dirname(join(outPkg, dir, f)), { recursive: true });
    atomicWrite(join(outPkg, dir, f), readFileSync(join(opts.pkg, "snippets", f)));
  }
}
for (const n of names.filter((n) => n !== SNIPPETS)) {
  const file = served.get(n);
  written.add(file);
  // Same name, same bytes: a file already there (with both compressed copies) is left as it is.
  if (["", ".br", ".gz"].every((ext) => existsSync(join(outPkg, file + ext)))) continue;
  writeServed(join(outPkg, file), isText(n) ? Buffer.from(await minified(rename(raw.get(n).toString("utf8")), n)) : raw.get(n));
}

// The loader last, so that whatever it names is already there.
const loaderText = readFileSync(opts.loader, "utf8");
if (![...refersTo(loaderText)].some((n) => n !== SNIPPETS)) fail(`${opts.loader} names none of ${names.join(", ")}: nothing to point at the hashed files`);
writeServed(join(opts.out, "touchpoint.js"), Buffer.from(await minified(rename(loaderText), opts.loader)));

const manifest = { "touchpoint.js": "touchpoint.js" };
for (const n of names) manifest[`pkg/${n}`] = `pkg/${served.get(n)}`;
atomicWrite(join(opts.out, "manifest.json"), Buffer.from(JSON.stringify(manifest, null, 2) + "\n"));

// Earlier builds' files: kept for a day, then removed.
const now = Date.now();
for (const f of readdirSync(outPkg)) {
  const plain = f.replace(/\.(br|gz)$/, "");
  const path = join(outPkg, f);
  if (!written.has(plain) && now - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { recursive: true, force: true });
}

console.log(`dist: the loader and ${[...served.values()].join(", ")} in ${opts.out}`);

async function minified(text, name) {
  try {
    return (await minify(text, { compress: true, mangle: true, format: { comments: /^!/ } })).code;
  } catch (e) {
    fail(`${name} could not be minified: ${e.message}`);
  }
}

function writeServed(path, bytes) {
  atomicWrite(path + ".br", brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  }));
  atomicWrite(path + ".gz", gzipSync(bytes, { level: 9 }));
  atomicWrite(path, bytes);
}

// A server reading the directory meanwhile sees the old file or the new one, never half of one.
function atomicWrite(path, bytes) {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** Paths of the files under `dir`, relative to it, sorted. */
function walk(dir, prefix = "") {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort();
}

function fail(message) {
  console.error(`dist.mjs: ${message}`);
  process.exit(1);
}
