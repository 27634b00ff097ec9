// Widget benchmark: what Touchpoint costs a host page, side by side with peer libraries, in one run.
//
// Serves a minimal host page per contender from 127.0.0.1 (this process), proxies /full/v1/* and
// /lean/v1/* to two real collectors on 127.0.0.1, and loads each page in Debian's headless chromium
// over CDP: bytes, time to the NPS card, main-thread time, heap, and the cost of track() calls.
// Writes bench/results/<time>.json and the "Widget on the host page" section of BENCHMARKS.md.
//
//   node bench/run.mjs                    (scripts/bench.sh builds first and runs this)
//   BENCH_RUNS=20 BENCH_CALL_REPS=2 BENCH_ONLY=touchpoint,posthog NO_WRITE=1 node bench/run.mjs
//   BENCH_REPORT=bench/results/<time>.json node bench/run.mjs   (re-render a stored run's section)
import { spawn, execFileSync } from "node:child_process";
import { createServer, request as httpRequest, Agent } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zc, gunzipSync, gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { chromium } from "playwright-core";
import { renderSection, replaceSection } from "./report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const RUNS = Number(process.env.BENCH_RUNS || 20);
const CALL_REPS = Number(process.env.BENCH_CALL_REPS || 2);
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(",") : null;
const SETTLE_MS = 500; // the measurement window ends this long after the card is interactive
// A round during which other processes used more than this many cores is "disturbed": up to
// BENCH_EXTRA_ROUNDS more rounds are run, and the RUNS least disturbed rounds are kept.
const DISTURBED_CORES = Number(process.env.BENCH_DISTURBED_CORES || 0.25);
const EXTRA_ROUNDS = Number(process.env.BENCH_EXTRA_ROUNDS || 8);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const log = (...a) => console.error("[bench]", ...a);

const version = (pkg) => JSON.parse(readFileSync(join(here, "node_modules", pkg, "package.json"), "utf8")).version;
const VERSIONS = {
  "posthog-js": version("posthog-js"),
  "@formbricks/js": version("@formbricks/js"),
  "@formbricks/surveys": version("@formbricks/surveys"),
  "driver.js": version("driver.js"),
  "playwright-core": version("playwright-core"),
};

// ---------------------------------------------------------------------------------------------
// Contenders. `target` is what the probe waits for: the "10" score control (the last of the 11),
// or driver.js's "Next" button; `track` is how the page records one custom event.
const SCORE_10 = 'button[aria-label^="10 out of 10"]';
const CONTENDERS = [
  { id: "blank", label: "Host page alone (no widget)", snippet: null, target: { readyOnLoad: true } },
  {
    id: "vanilla", label: "Vanilla JS popover (the floor)", snippet: "vanilla.html", collector: "/lean",
    target: { selector: SCORE_10 }, click: { selector: 'button[aria-label^="9 out of 10"]', expect: ["/lean/v1/events", "survey_answered"] },
    track: "(n, p) => VanillaNps.track(n, p)",
  },
  {
    id: "touchpoint", label: "Touchpoint (survey + checklist + help)", snippet: "touchpoint.html", collector: "/full",
    loader: "/touchpoint.js", wasm: true,
    target: { selector: SCORE_10 }, click: { selector: 'button[aria-label^="9 out of 10"]', expect: ["/full/v1/events", "survey_answered"] },
    track: "(n, p) => Touchpoint.track(n, p)",
  },
  {
    id: "touchpoint-survey", label: "Touchpoint (survey only)", snippet: "touchpoint.html", collector: "/lean",
    loader: "/touchpoint.js", wasm: true,
    target: { selector: SCORE_10 }, click: { selector: 'button[aria-label^="9 out of 10"]', expect: ["/lean/v1/events", "survey_answered"] },
    track: "(n, p) => Touchpoint.track(n, p)",
  },
  {
    id: "posthog", label: `posthog-js ${VERSIONS["posthog-js"]} + surveys`, snippet: "posthog.html",
    target: { selector: ".ratings-number", text: "10" }, click: { selector: ".ratings-number", text: "9", expect: ["/ph/", "survey sent"] },
    track: "(n, p) => posthog.capture(n, p)",
  },
  {
    id: "formbricks", label: `Formbricks renderer (@formbricks/surveys ${VERSIONS["@formbricks/surveys"]})`, snippet: "formbricks.html",
    target: { selector: "#fbjs fieldset label", text: "10" }, click: { selector: "#fbjs fieldset label", text: "9", expect: ["/fb/responses", '"response"'] },
  },
  {
    id: "driver", label: `driver.js ${VERSIONS["driver.js"]} (tour)`, snippet: "driver.html",
    target: { selector: ".driver-popover-next-btn" }, click: { selector: ".driver-popover-next-btn", expectTitle: "Bring your data" },
  },
].filter((c) => !ONLY || c.id === "blank" || c.id === "vanilla" || ONLY.includes(c.id)); // the floor and the bare page always run

// ---------------------------------------------------------------------------------------------
// The probe, installed before any page script: records long tasks, and polls once per animation
// frame for the target. "visible" is the first frame in which it is laid out with a non-zero size,
// inside the viewport, and neither hidden nor at opacity 0 (checkVisibility; inside shadow roots too);
// "interactive" is when the first task queued from that frame runs, i.e. after that frame and once
// the main thread is free to handle a click.
function probe(cfg) {
  const B = (window.__bench = { t: {}, longtasks: { count: 0, total: 0, blocking: 0 } });
  let done;
  B.ready = new Promise((r) => (done = r));
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        B.longtasks.count++;
        B.longtasks.total += e.duration;
        B.longtasks.blocking += Math.max(0, e.duration - 50);
      }
    }).observe({ type: "longtask", buffered: true });
  } catch {}
  const finish = () => {
    B.t.visible = performance.now();
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { B.t.interactive = performance.now(); done(B.t); };
    ch.port2.postMessage(0);
  };
  if (cfg.readyOnLoad) {
    addEventListener("load", () => requestAnimationFrame(finish));
    return;
  }
  // Shadow roots are found by wrapping attachShadow (open or closed), so a poll costs one query per root.
  const roots = [];
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    roots.push(root);
    return root;
  };
  const find = () => {
    for (const scope of [document, ...roots]) {
      for (const el of scope.querySelectorAll(cfg.selector)) if (!cfg.text || el.textContent.trim() === cfg.text) return el;
    }
    return null;
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth &&
      el.checkVisibility({ opacityProperty: true, visibilityProperty: true });
  };
  const tick = () => {
    const el = find();
    if (el && shown(el)) finish();
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

// ---------------------------------------------------------------------------------------------
// Collectors: "full" is configured like the demo (the repo's checklists.json and help/), so the
// page also loads the checklist and the help launcher; "lean" runs from an empty directory, so it
// has neither (nothing but surveys).
const work = mkdtempSync(join(tmpdir(), "touchpoint-bench-"));
const children = [];
async function startCollector(name, extra, cwd) {
  const bin = process.env.TOUCHPOINT_COLLECTOR || join(root, process.env.CARGO_TARGET_DIR || "target", "release/touchpoint-collector");
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const args = ["--addr", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--surveys-dir", join(root, "surveys"),
                "--www-dir", join(dir, "no-www"), "--pkg-dir", join(dir, "no-pkg"), ...extra];
  const proc = spawn(bin, args, { cwd: cwd || dir, stdio: ["ignore", "pipe", "pipe"] });
  children.push(proc);
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  const port = await new Promise((ok, fail) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) ok(Number(m[1]));
    });
    proc.on("exit", (code) => fail(new Error(`collector ${name} exited with ${code}: ${err}`)));
    setTimeout(() => fail(new Error(`collector ${name} did not start: ${out} ${err}`)), 15000);
  });
  return { name, port, args: args.map((a) => a.replace(work, "$TMP").replace(root + "/", "")) };
}

// ---------------------------------------------------------------------------------------------
// Static files, read once into memory (a snapshot: a concurrent rebuild of pkg/ cannot change a run).
const files = new Map();
const TYPES = { js: "text/javascript", mjs: "text/javascript", cjs: "text/javascript", wasm: "application/wasm", css: "text/css",
                json: "application/json", html: "text/html; charset=utf-8" };
const typeOf = (p) => TYPES[p.split(".").pop()] || "application/octet-stream";
function serveFile(url, path) { files.set(url, { body: readFileSync(path), type: typeOf(path) }); }
function serveDir(prefix, dir) {
  for (const f of readdirSync(dir, { recursive: true })) {
    const p = join(dir, f);
    if (statSync(p).isFile()) serveFile(`${prefix}/${f}`, p);
  }
}
// Touchpoint as a deployment serves it (scripts/dist.mjs: the loader and the npm entry minified, every
// file under a content-hashed name the loader names), beside pkg/'s plain names (the memory probe below).
// The bodies are sent as they are: the sizes are compressed here, as for every contender.
serveFile("/touchpoint.js", join(root, "dist/touchpoint.js"));
serveDir("/pkg", join(root, "pkg"));
for (const f of readdirSync(join(root, "dist/pkg"))) if (!/\.(br|gz)$/.test(f)) serveFile(`/pkg/${f}`, join(root, "dist/pkg", f));
serveFile("/vanilla/nps.js", join(here, "pages/vanilla-nps.js"));
const ph = join(here, "node_modules/posthog-js/dist");
for (const f of readdirSync(ph).filter((f) => f.endsWith(".js"))) {
  serveFile(`/ph/static/${f}`, join(ph, f));
  serveFile(`/ph/static/${VERSIONS["posthog-js"]}/${f}`, join(ph, f));
}
const phConfig = readFileSync(join(here, "fixtures/posthog-config.json"), "utf8");
files.set("/ph/array/phc_bench/config.js", { type: TYPES.js, body: Buffer.from(
  `(function(){window._POSTHOG_REMOTE_CONFIG=window._POSTHOG_REMOTE_CONFIG||{};` +
  `window._POSTHOG_REMOTE_CONFIG["phc_bench"]={config:${phConfig.trim()},siteApps:[]};})();`) });
files.set("/ph/array/phc_bench/config", { type: TYPES.json, body: Buffer.from(phConfig) });
files.set("/ph/flags/", { type: TYPES.json, body: Buffer.from('{"flags":{},"featureFlags":{},"featureFlagPayloads":{},"errorsWhileComputingFlags":false}') });
serveFile("/ph/api/surveys/", join(here, "fixtures/posthog-surveys.json"));
serveFile("/fb/surveys.umd.js", join(here, "node_modules/@formbricks/surveys/dist/index.umd.js"));
serveFile("/fb/question-date.umd.js", join(here, "node_modules/@formbricks/surveys/dist/question-date.umd.js"));
serveFile("/fb/survey.json", join(here, "fixtures/formbricks-survey.json"));
serveFile("/driver/driver.js.iife.js", join(here, "node_modules/driver.js/dist/driver.js.iife.js"));
serveFile("/driver/driver.css", join(here, "node_modules/driver.js/dist/driver.css"));
const hostTemplate = readFileSync(join(here, "pages/host.html"), "utf8");

// Everything posted to the server, decoded to text, so a run can wait for what it sent.
const posted = [];
const unexpected = new Map(); // path → count: requests nothing here answers (a contender calling out)
function decodeBody(buf, headers) {
  let b = buf;
  if (b.length > 2 && b[0] === 0x1f && b[1] === 0x8b) { try { b = gunzipSync(b); } catch {} }
  let text = b.toString("utf8");
  if ((headers["content-type"] || "").includes("x-www-form-urlencoded") || text.startsWith("data=")) {
    const data = new URLSearchParams(text).get("data");
    if (data) { try { text += Buffer.from(data, "base64").toString("utf8"); } catch {} text += data; }
  }
  return text;
}
const countSince = (mark, prefix, needle) => posted.slice(mark).filter((p) => p.path.startsWith(prefix))
  .reduce((n, p) => n + p.text.split(needle).length - 1, 0);

const agent = new Agent({ keepAlive: true });
let collectors = {};
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, "http://x");
    const path = url.pathname;
    if (req.method === "POST") posted.push({ path, text: decodeBody(body, req.headers), at: Date.now() });
    const m = path.match(/^\/(full|lean)(\/v1\/.*)$/);
    if (m) {
      const up = httpRequest({ host: "127.0.0.1", port: collectors[m[1]].port, method: req.method, path: m[2] + url.search, agent,
                               headers: { ...req.headers, host: `127.0.0.1:${collectors[m[1]].port}` } }, (pr) => {
        res.writeHead(pr.statusCode, pr.headers);
        pr.pipe(res);
      });
      up.on("error", () => { res.writeHead(502); res.end(); });
      up.end(body);
      return;
    }
    const page = path.match(/^\/(\w[\w-]*)\.html$/);
    const c = page && CONTENDERS.find((x) => x.id === page[1]);
    if (c) {
      const snippet = c.snippet ? readFileSync(join(here, "pages", c.snippet), "utf8") : "";
      const html = hostTemplate.replace("{{CONTENDER}}", c.label).replace("{{SNIPPET}}", snippet)
        .replaceAll("{{ORIGIN}}", origin).replaceAll("{{COLLECTOR}}", c.collector || "");
      return send(res, 200, TYPES.html, Buffer.from(html));
    }
    if (req.method === "POST" && (path.startsWith("/ph/") || path === "/fb/responses")) {
      return send(res, 200, TYPES.json, Buffer.from(path.startsWith("/ph/") ? '{"status":1}' : "{}"));
    }
    const f = files.get(path);
    if (f) return send(res, 200, f.type, f.body);
    unexpected.set(`${req.method} ${path}`, (unexpected.get(`${req.method} ${path}`) || 0) + 1);
    send(res, 404, "text/plain", Buffer.from("not found"));
  });
});
function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "content-length": body.length, "cache-control": "no-store" });
  res.end(body);
}
let origin = "";

// ---------------------------------------------------------------------------------------------
const metricsOf = async (cdp) => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(pred, timeoutMs, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) { if (await pred()) return true; await sleep(stepMs); }
  return false;
}
const withTimeout = (p, ms, what) => Promise.race([p, sleep(ms).then(() => { throw new Error(`timed out: ${what}`); })]);

/** One cold page load (fresh context: empty cache and storage). */
async function openPage(browser, c, throttle, { capture = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  if (throttle > 1) await cdp.send("Emulation.setCPUThrottlingRate", { rate: throttle });
  await page.addInitScript(probe, c.target);
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  const bodies = new Map();
  if (capture) page.on("response", async (r) => { try { bodies.set(r.url(), await r.body()); } catch {} });
  const external = [];
  page.on("requestfailed", (r) => { if (!r.url().startsWith(origin)) external.push(r.url()); });
  page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) external.push(r.url()); });
  await page.goto(`${origin}/${c.id}.html`, { waitUntil: "commit" });
  const t = await withTimeout(page.evaluate(() => window.__bench.ready), throttle > 1 ? 60000 : 30000, `${c.id} card`);
  return { context, page, cdp, t, errors, bodies, external };
}

/** A timed load: times, main-thread metrics at card + SETTLE_MS, heap after a GC (1× only). */
async function timedLoad(browser, c, throttle) {
  const s = await openPage(browser, c, throttle);
  try {
    await sleep(SETTLE_MS);
    const m = await metricsOf(s.cdp);
    const lt = await s.page.evaluate(() => window.__bench.longtasks);
    const out = { visible: s.t.visible, interactive: s.t.interactive, script: m.ScriptDuration * 1000, task: m.TaskDuration * 1000,
                  longtaskMs: lt.total, longtaskCount: lt.count, errors: s.errors.length, external: s.external.length };
    if (throttle === 1) {
      await s.cdp.send("HeapProfiler.collectGarbage");
      out.heap = (await metricsOf(s.cdp)).JSHeapUsedSize;
      if (c.wasm) out.wasm = await s.page.evaluate(async () => (await (await import("/pkg/touchpoint.js")).default()).memory.buffer.byteLength);
    }
    return out;
  } finally { await s.context.close(); }
}

const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [zc.BROTLI_PARAM_QUALITY]: 11 } }).length;
function category(c, url) {
  const p = new URL(url).pathname;
  if (p.endsWith(".wasm")) return "wasm";
  if (c.loader && p === c.loader) return "loader";
  if (p.includes("/v1/") || p.includes("/api/") || p.includes("/array/") || p.includes("/flags") || p.endsWith(".json")) return "data";
  if (p.endsWith(".css")) return "css";
  return "js";
}

/** The first, untimed load: which bytes came before the card, then a click that must be answered. */
async function inspect(browser, c) {
  const s = await openPage(browser, c, 1, { capture: true });
  try {
    await sleep(SETTLE_MS);
    mkdirSync(join(here, "results"), { recursive: true });
    await s.page.screenshot({ path: join(here, "results", `${c.id}.png`) }); // to look at: bench/results/<id>.png
    const entries = await s.page.evaluate(() => performance.getEntriesByType("resource").map((e) => ({ url: e.name, start: e.startTime, end: e.responseEnd })));
    const resources = entries.filter((e) => e.url.startsWith(origin) && !e.url.includes(`/${c.id}.html`)).map((e) => {
      const body = s.bodies.get(e.url) || Buffer.alloc(0);
      return { path: new URL(e.url).pathname + new URL(e.url).search, category: category(c, e.url), beforeCard: e.end <= s.t.visible,
               start: Math.round(e.start), end: Math.round(e.end),
               raw: body.length, gzip: gz(body), brotli: br(body) };
    });
    let verified = null;
    if (c.click) {
      const mark = posted.length;
      let loc = s.page.locator(c.click.selector);
      if (c.click.text) loc = loc.filter({ hasText: new RegExp(`^\\s*${c.click.text}\\s*$`) });
      await loc.first().click({ timeout: 5000 });
      if (c.click.expect) {
        const [prefix, needle] = c.click.expect;
        verified = await until(() => countSince(mark, prefix, needle) > 0, 10000);
      } else {
        verified = await until(() => s.page.evaluate((t) => document.querySelector(".driver-popover-title")?.textContent === t, c.click.expectTitle), 5000);
      }
    }
    return { resources, verified, t: s.t, errors: s.errors, external: s.external };
  } finally { await s.context.close(); }
}

/**
 * track(): 100 calls on an empty queue and the flush that delivers them; then 10,000 calls in 100 bursts of
 * 100 with the page idle 50 ms between bursts (the libraries send meanwhile, as they would in an app); then
 * 1,000 calls in a row (a backlog builds up: shows whether a call's cost grows with the queue).
 */
async function calls(browser, c) {
  const s = await openPage(browser, c, 1);
  try {
    await sleep(1500); // let the events of the showing go out first
    const mark = posted.length;
    const hundred = await s.page.evaluate((src) => {
      const f = (0, eval)(src), t0 = performance.now();
      for (let i = 0; i < 100; i++) f("bench_flush", { i, plan: "trial" });
      return performance.now() - t0;
    }, c.track);
    const m1 = await metricsOf(s.cdp), t1 = Date.now();
    const delivered = await until(() => countSince(mark, "/", "bench_flush") >= 100, 20000);
    const t2 = Date.now();
    await sleep(300); // the answer's handling (removing the delivered events from storage)
    const m2 = await metricsOf(s.cdp);
    // Also timed to the end of the burst's task: `await null` resumes after the microtasks the calls queued
    // (FIFO), so work a library defers to the end of the task (e.g. one storage write per burst) is counted.
    const [bursts, burstsTask] = await s.page.evaluate(async (src) => {
      const f = (0, eval)(src);
      let total = 0, task = 0;
      for (let b = 0; b < 100; b++) {
        const t0 = performance.now();
        for (let i = 0; i < 100; i++) f("bench_event", { i: b * 100 + i, plan: "trial" });
        total += performance.now() - t0;
        await null;
        task += performance.now() - t0;
        await new Promise((r) => setTimeout(r, 50));
      }
      return [total, task];
    }, c.track);
    const row = await s.page.evaluate((src) => {
      const f = (0, eval)(src), t0 = performance.now();
      for (let i = 0; i < 1000; i++) f("bench_row", { i, plan: "trial" });
      return performance.now() - t0;
    }, c.track);
    return { first100Us: (hundred * 1000) / 100, trackUs: (bursts * 1000) / 10000, trackTaskUs: (burstsTask * 1000) / 10000, row1000Us: (row * 1000) / 1000,
             flushDelivered: delivered, flushWallMs: t2 - t1, flushScriptMs: (m2.ScriptDuration - m1.ScriptDuration) * 1000,
             flushTaskMs: (m2.TaskDuration - m1.TaskDuration) * 1000, errors: s.errors.slice(0, 5) };
  } finally { await s.context.close(); }
}

// ---------------------------------------------------------------------------------------------
// How much CPU other processes took: all busy CPU time (/proc/stat) minus this process tree's
// (node, chromium, the collectors; exited renderers count through their parent's cutime/cstime).
function cpuTicks() {
  const busy = (() => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return f.reduce((a, b) => a + b, 0) - f[3] - (f[4] || 0); // minus idle and iowait
  })();
  const procs = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" "); // fields from the state on (field 3)
      procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {}
  }
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of procs) if (!mine.has(pid) && mine.has(p.ppid)) { mine.add(pid); grew = true; }
  }
  let own = 0;
  for (const pid of mine) own += procs.get(pid)?.ticks || 0;
  return { busy, own, at: Date.now() };
}
/** Cores' worth of CPU that other processes used between two cpuTicks() samples (ticks are 1/100 s). */
const othersCores = (a, b) => Math.max(0, (b.busy - a.busy - (b.own - a.own)) / 100 / ((b.at - a.at) / 1000));

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : null; };
const p95 = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.ceil(0.95 * s.length) - 1] : null; };
function shuffle(a) { for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; } return a; }

function gitInfo() {
  const git = (...a) => { try { return execFileSync("git", a, { cwd: root, encoding: "utf8" }).trimEnd(); } catch { return ""; } };
  const head = git("rev-parse", "--short", "HEAD") || "unknown";
  // scripts/bench.sh records the commit it built; it is the one measured if pkg/ still holds that build's wasm.
  const wasm = files.get("/pkg/touchpoint_bg.wasm")?.body;
  const sha = wasm && createHash("sha256").update(wasm).digest("hex");
  let built = null;
  try { built = JSON.parse(readFileSync(join(here, "results/built.json"), "utf8")); } catch {}
  if (built && built.wasmSha256 === sha) return { commit: built.commit, dirty: built.dirty, builtAt: built.at, head };
  const dirty = git("status", "--porcelain", "--", "src", "crates", "www", "pkg", "Cargo.toml", "Cargo.lock", "surveys", "checklists.json", "help");
  return { commit: head, dirty: dirty ? dirty.split("\n").map((l) => l.slice(3)) : [], head, notBuiltHere: true };
}

async function main() {
  const started = Date.now();
  const load0 = loadavg();
  collectors = {
    full: await startCollector("full", ["--checklists", join(root, "checklists.json"), "--help-dir", join(root, "help")]),
    lean: await startCollector("lean", []),
  };
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${server.address().port}`;
  log(`host pages on ${origin}; collectors full :${collectors.full.port}, lean :${collectors.lean.port}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
           // Nothing leaves this machine: every host name but 127.0.0.1 fails to resolve.
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
  });
  const results = { versions: VERSIONS, chromium: browser.version(), runs: RUNS, callReps: CALL_REPS, settleMs: SETTLE_MS,
                    collectors: Object.fromEntries(Object.entries(collectors).map(([k, v]) => [k, v.args.join(" ")])), contenders: {} };
  try {
    for (const c of CONTENDERS) {
      const r = (results.contenders[c.id] = { label: c.label, loads: { 1: [], 4: [] }, failures: { 1: 0, 4: 0 }, calls: [] });
      log(`inspect ${c.id}`);
      unexpected.clear();
      let i;
      try { i = await inspect(browser, c); }
      catch (e) {
        // A contender that cannot show its card is reported, not timed (each load would only wait for the timeout).
        log(`${c.id}: ${e.message}; not timed`);
        r.error = e.message;
        r.unexpected = Object.fromEntries(unexpected);
        continue;
      }
      r.resources = i.resources;
      r.verified = i.verified;
      r.inspectT = i.t;
      r.inspectErrors = i.errors.slice(0, 5);
      r.external = i.external;
      r.unexpected = Object.fromEntries(unexpected);
    }
    const live = CONTENDERS.filter((c) => !results.contenders[c.id].error);
    results.rounds = [];
    for (let round = 0, quiet = 0; quiet < RUNS && round < RUNS + EXTRA_ROUNDS; round++) {
      const before = cpuTicks();
      const loads = [];
      for (const throttle of [1, 4]) {
        for (const c of shuffle([...live])) {
          try { loads.push({ id: c.id, throttle, ...(await timedLoad(browser, c, throttle)) }); }
          catch (e) { loads.push({ id: c.id, throttle, failed: e.message }); log(`${c.id} ${throttle}x round ${round + 1}: ${e.message}`); }
        }
      }
      const others = othersCores(before, cpuTicks());
      if (others <= DISTURBED_CORES) quiet++;
      results.rounds.push({ others, loadavg: loadavg()[0], loads });
      log(`round ${round + 1}: other processes used ${others.toFixed(2)} cores${others > DISTURBED_CORES ? " (disturbed)" : ""}; ` +
          `${quiet}/${RUNS} quiet rounds (${Math.round((Date.now() - started) / 1000)} s)`);
    }
    // Keep the RUNS least disturbed rounds (chosen by the machine's load, not by what they measured).
    const kept = [...results.rounds].sort((a, b) => a.others - b.others).slice(0, RUNS);
    for (const round of kept) {
      for (const l of round.loads) {
        const r = results.contenders[l.id];
        if (l.failed) r.failures[l.throttle]++;
        else r.loads[l.throttle].push(l);
      }
    }
    results.kept = kept.map((k) => k.others);
    for (let rep = 0; rep < CALL_REPS; rep++) {
      for (const c of live.filter((c) => c.track)) {
        const before = cpuTicks();
        try { results.contenders[c.id].calls.push({ ...(await calls(browser, c)), others: othersCores(before, cpuTicks()) }); }
        catch (e) { log(`${c.id} calls: ${e.message}`); }
      }
    }
  } finally {
    await browser.close();
    server.close();
    for (const p of children) p.kill("SIGTERM");
  }

  // Summaries.
  for (const r of Object.values(results.contenders)) {
    r.summary = {};
    r.resources ||= [];
    for (const th of [1, 4]) {
      const L = r.loads[th];
      const col = (k) => L.map((x) => x[k]).filter((v) => v !== undefined);
      r.summary[th] = { n: L.length, visible: { median: median(col("visible")), p95: p95(col("visible")) },
                        interactive: { median: median(col("interactive")), p95: p95(col("interactive")) },
                        script: median(col("script")), task: median(col("task")), longtaskMs: median(col("longtaskMs")),
                        longtaskCount: median(col("longtaskCount")), heap: median(col("heap")), wasm: median(col("wasm")) };
    }
    if (r.calls.length) {
      const col = (k) => r.calls.map((x) => x[k]).filter((v) => v !== undefined);
      r.summary.calls = { n: r.calls.length, trackUs: median(col("trackUs")), trackTaskUs: median(col("trackTaskUs")), first100Us: median(col("first100Us")), row1000Us: median(col("row1000Us")),
                          flushScriptMs: median(col("flushScriptMs")), flushTaskMs: median(col("flushTaskMs")),
                          flushWallMs: median(col("flushWallMs")), delivered: r.calls.every((x) => x.flushDelivered) };
    }
    const sum = (pred) => ["raw", "gzip", "brotli"].reduce((o, k) => ({ ...o, [k]: r.resources.filter(pred).reduce((n, x) => n + x[k], 0) }), {});
    r.bytes = { beforeCard: {}, all: sum(() => true) };
    for (const cat of ["loader", "js", "wasm", "css", "data"]) r.bytes.beforeCard[cat] = sum((x) => x.beforeCard && x.category === cat);
    r.bytes.beforeCard.total = sum((x) => x.beforeCard);
    r.bytes.beforeCard.code = sum((x) => x.beforeCard && x.category !== "data");
  }
  const cpuModel = cpus()[0]?.model || "unknown";
  results.machine = { nproc: cpus().length, cpu: cpuModel, loadavgStart: load0, loadavgEnd: loadavg(), date: new Date().toISOString(),
                      seconds: Math.round((Date.now() - started) / 1000), ...gitInfo() };
  results.formbricksLoader = (() => { const b = readFileSync(join(here, "node_modules/@formbricks/js/dist/index.js")); return { raw: b.length, gzip: gz(b), brotli: br(b) }; })();

  mkdirSync(join(here, "results"), { recursive: true });
  const stamp = results.machine.date.replace(/[:.]/g, "-");
  const out = join(here, "results", `${stamp}.json`);
  writeFileSync(out, JSON.stringify(results, null, 1));
  log(`wrote ${relative(root, out)}`);
  writeSection(results);
  if (process.env.BENCH_DEBUG) for (const p of posted) log("posted", p.path, p.text.slice(0, 300));
  rmSync(work, { recursive: true, force: true });
}

function writeSection(results) {
  const section = renderSection(results);
  if (process.env.NO_WRITE) console.log(section);
  else {
    const md = join(root, "BENCHMARKS.md");
    writeFileSync(md, replaceSection(existsSync(md) ? readFileSync(md, "utf8") : "", section));
    log("wrote the \"Widget on the host page\" section of BENCHMARKS.md");
  }
}

// BENCH_REPORT=bench/results/<time>.json re-renders the section from a stored run, measuring nothing.
const stored = process.env.BENCH_REPORT;
const report = () => { writeSection(JSON.parse(readFileSync(resolve(stored), "utf8"))); rmSync(work, { recursive: true, force: true }); };
(stored ? Promise.resolve().then(report) : main()).catch((e) => {
  for (const p of children) p.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
  console.error(e);
  process.exit(1);
});
