// Durable delivery under faults, in real Chromium, through a fault proxy in front of the real collector.
// In every case: each tracked event is stored exactly once (by UUID), nothing else is stored, and the
// failure is visible to the host through Touchpoint.on("error").
import type { Page } from "@playwright/test";
import { expect, goOffline, Collector, StoredEvent } from "./collector";
import { FaultProxy, test } from "./faultproxy";

// Pages also send events of their own (checklist_shown); faults are for the tracked ones.
test.use({ faultsOnlyForTrack: true });

type Opts = Record<string, string | number>;

async function open(page: Page, fp: FaultProxy, opts: Opts = {}) {
  const q = new URLSearchParams({ flushIntervalMs: "50", ...Object.fromEntries(Object.entries(opts).map(([k, v]) => [k, String(v)])) });
  await page.goto(`${fp.url}/fixture/queue.html?${q}`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

async function track(page: Page, n: number, name = "e2e_event"): Promise<string[]> {
  const ids = await page.evaluate(([n, name]) => Array.from({ length: n as number }, (_, i) => (window as any).Touchpoint.track(name, { i })), [n, name]);
  for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return ids;
}

const errors = (page: Page) => page.evaluate(() => (window as any).tpErrors as { code: string; message: string; eventIds: string[] }[]);

/** Waits until exactly `ids` are stored (as track events), each once, and nothing else of that name. */
async function expectStoredOnce(collector: Collector, ids: string[], name = "e2e_event") {
  let stored: StoredEvent[] = [];
  await expect
    .poll(async () => {
      stored = (await collector.events({ type: "track" })).filter((e) => e.name === name);
      return stored.map((e) => e.id).sort();
    }, { timeout: 20_000 })
    .toEqual([...ids].sort());
  // Every stored row is a whole, valid event.
  for (const e of stored) expect(e).toMatchObject({ type: "track", name, anonymous_id: expect.any(String), url: expect.any(String) });
}

/** How many of `ids` (all queued events, if not given) wait in the page's queue. The page also
 * queues events of its own (e.g. `checklist_shown`), so tests name the events they count. */
async function queued(page: Page, ids?: string[]) {
  const keys = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("touchpoint:pk_demo:q:")));
  return ids ? keys.filter((k) => ids.some((id) => k.endsWith(`:${id}`))).length : keys.length;
}

/** What the proxy forwarded of `ids`. */
const forwardedOf = (fp: FaultProxy, ids: string[]) => fp.forwarded.filter((id) => ids.includes(id));

test("offline, then online: everything tracked while offline arrives once, without waiting out the backoff", async ({ page, fp, collector }) => {
  await open(page, fp);
  await goOffline(page);
  const ids = await track(page, 5);
  await expect.poll(() => errors(page).then((e) => e.some((x) => x.code === "delivery_failed"))).toBe(true);
  expect(await collector.events({ type: "track" })).toEqual([]);
  expect(await queued(page, ids)).toBe(5); // persisted before any send
  // Let failures pile up so the backoff is long, then come back online.
  await page.waitForTimeout(3500);
  await page.context().setOffline(false);
  const back = Date.now();
  await expectStoredOnce(collector, ids);
  expect(Date.now() - back).toBeLessThan(2000);
  await expect.poll(() => queued(page)).toBe(0);
});

test("three 500s in a row, then success", async ({ page, fp, collector }) => {
  fp.faults = [1, 2, 3].map(() => ({ kind: "status" as const, status: 500 }));
  await open(page, fp);
  const ids = await track(page, 3);
  await expectStoredOnce(collector, ids);
  const withTracks = fp.posts.filter((p) => p.ids.some((id) => ids.includes(id)));
  expect(withTracks.map((p) => p.fault ?? "ok")).toEqual(["status", "status", "status", "ok"]);
  // Backoff grows: each wait is at least half of 1 s, 2 s, 4 s.
  const gaps = withTracks.slice(1).map((p, i) => p.at - withTracks[i].at);
  expect(gaps[0]).toBeGreaterThanOrEqual(450);
  expect(gaps[1]).toBeGreaterThanOrEqual(950);
  expect(gaps[2]).toBeGreaterThanOrEqual(1950);
  const failed = (await errors(page)).filter((e) => e.code === "delivery_failed");
  expect(failed.length).toBe(3);
  expect(failed[0].eventIds).toEqual(expect.arrayContaining(ids));
  expect(failed[0].message).toContain("HTTP 500");
});

test("429 with Retry-After is honoured", async ({ page, fp, collector }) => {
  fp.faults = [{ kind: "status", status: 429, headers: { "retry-after": "2" } }];
  await open(page, fp);
  const ids = await track(page, 2);
  await expectStoredOnce(collector, ids);
  const withTracks = fp.posts.filter((p) => p.ids.some((id) => ids.includes(id)));
  expect(withTracks.length).toBe(2);
  expect(withTracks[1].at - withTracks[0].at).toBeGreaterThanOrEqual(1950);
  expect((await errors(page)).some((e) => e.code === "delivery_failed" && e.message.includes("retrying in 2000 ms"))).toBe(true);
});

test("an answer slower than the timeout is abandoned and retried; the collector counts it once", async ({ page, fp, collector }) => {
  fp.faults = [{ kind: "delay", ms: 4000 }];
  await open(page, fp, { requestTimeoutMs: 1000 });
  const ids = await track(page, 3);
  await expectStoredOnce(collector, ids);
  // The retry went out before the slow answer would have come back.
  const withTracks = () => fp.posts.filter((p) => p.ids.some((id) => ids.includes(id)));
  await expect.poll(() => withTracks().length).toBeGreaterThanOrEqual(2);
  expect(withTracks()[1].at - withTracks()[0].at).toBeLessThan(4000);
  // Sent twice, stored once.
  expect(fp.forwarded.filter((id) => id === ids[0]).length).toBe(2);
  expect((await errors(page)).some((e) => e.message.includes("no answer within 1000 ms"))).toBe(true);
  await expect.poll(() => queued(page)).toBe(0);
});

test("connection reset mid-batch after the collector stored it: resent, counted once", async ({ page, fp, collector }) => {
  // Three times: Chromium itself silently retries a POST when a reused keep-alive socket is
  // reset, so whether the page's code sees a failure (and reports delivery_failed) or the
  // browser's own retry resends depends on which socket the POST got. Either way the batch
  // reached the collector several times; what must hold is that it is stored once and the
  // queue drains.
  fp.faults = [1, 2, 3].map(() => ({ kind: "reset" as const, forward: true }));
  await open(page, fp);
  const ids = await track(page, 4);
  await expectStoredOnce(collector, ids);
  await expect.poll(() => queued(page)).toBe(0);
  // The collector saw the batch at least three times and stored it once.
  expect(fp.forwarded.filter((id) => id === ids[0]).length).toBeGreaterThanOrEqual(2);
  expect(fp.posts.filter((p) => p.ids.includes(ids[0])).length).toBeGreaterThanOrEqual(3);
});

test("tab closed mid-flush, page reopened: the events are sent from storage", async ({ context, fp, collector }) => {
  fp.faults = [{ kind: "hang" }];
  const first = await context.newPage();
  await open(first, fp);
  const ids = await track(first, 3);
  await expect.poll(() => fp.posts.filter((p) => p.fault === "hang").length).toBe(1); // the hanging send
  await first.close({ runBeforeUnload: true });
  expect(await collector.events({ type: "track" })).toEqual([]);
  const again = await context.newPage();
  await open(again, fp);
  await expectStoredOnce(collector, ids);
  await expect.poll(() => queued(again)).toBe(0);
});

test("a burst of track() calls is written to storage at the end of its task, before any send", async ({ page, fp, collector }) => {
  await open(page, fp, { flushIntervalMs: 60_000 });
  const r = await page.evaluate(async () => {
    const key = (id: string) => Object.keys(localStorage).some((k) => k.startsWith("touchpoint:pk_demo:q:") && k.endsWith(`:${id}`));
    const ids: string[] = Array.from({ length: 50 }, (_, i) => (window as any).Touchpoint.track("e2e_event", { i }));
    const inCall = ids.filter(key).length;
    await null; // resumes after the microtasks the calls queued
    return { ids, inCall, atEndOfTask: ids.filter(key).length };
  });
  expect(r.inCall).toBe(0); // the write is not part of the call…
  expect(r.atEndOfTask).toBe(50); // …but done before the task ends
  expect(fp.posts.filter((p) => p.ids.some((id) => r.ids.includes(id)))).toEqual([]);
  // Leaving the page sends them (keepalive on pagehide, or the next page load from storage), each once.
  await open(page, fp, { flushIntervalMs: 50 });
  await expectStoredOnce(collector, r.ids);
});

test("closing the tab sends what is still queued, with keepalive", async ({ context, fp, collector }) => {
  const page = await context.newPage();
  await open(page, fp, { flushIntervalMs: 60_000 });
  const ids = await track(page, 3);
  expect(fp.posts.length).toBe(0); // still batching
  await page.close({ runBeforeUnload: true });
  await expectStoredOnce(collector, ids);
});

test("two tabs tracking at once share the queue without double sends", async ({ context, fp, collector }) => {
  const [a, b] = [await context.newPage(), await context.newPage()];
  await Promise.all([open(a, fp), open(b, fp)]);
  const batches = await Promise.all(
    [a, b].flatMap((p) => [0, 1, 2, 3, 4].map(async (i) => {
      await p.waitForTimeout(i * 37);
      return track(p, 6);
    })),
  );
  const ids = batches.flat();
  expect(ids.length).toBe(60);
  await expectStoredOnce(collector, ids);
  // Each event went over the wire once: the Web Lock lets one tab send at a time.
  expect(forwardedOf(fp, ids).length).toBe(60);
  expect(new Set(forwardedOf(fp, ids)).size).toBe(60);
});

test("collector restarted mid-stream: nothing acknowledged is lost, nothing doubles", async ({ page, fp, collector }) => {
  await open(page, fp);
  const before = await track(page, 5);
  await expectStoredOnce(collector, before);
  await collector.stop();
  const during = await track(page, 5); // the proxy answers 502 while the collector is down
  await expect.poll(() => errors(page).then((e) => e.some((x) => x.message.includes("HTTP 502")))).toBe(true);
  await collector.restart();
  fp.upstream = collector.url;
  await expectStoredOnce(collector, [...before, ...during]);
});

test("corrupted queue entries are removed and reported; the rest is delivered", async ({ page, fp, collector, consoleErrors }) => {
  await page.addInitScript(() => {
    if (sessionStorage.getItem("seeded")) return;
    sessionStorage.setItem("seeded", "1");
    localStorage.setItem("touchpoint:pk_demo:q:0000000000001.000001:bad", "{garbage");
    localStorage.setItem("touchpoint:pk_demo:q:0000000000002.000001:foreign", JSON.stringify({ hello: "world" }));
    localStorage.setItem("touchpoint:pk_demo:anonymous_id", "not-a-uuid");
  });
  await open(page, fp);
  const ids = await track(page, 2);
  await expectStoredOnce(collector, ids);
  const corrupt = (await errors(page)).filter((e) => e.code === "corrupt_storage");
  expect(corrupt.map((e) => e.eventIds[0]).sort()).toEqual(["bad", "foreign"]);
  expect(consoleErrors.filter((e) => e.includes("not a valid event")).length).toBe(2);
  await expect.poll(() => queued(page)).toBe(0);
  // A fresh anonymous id replaced the corrupt one.
  const stored = await collector.events({ type: "track" });
  expect(stored[0].anonymous_id).toMatch(/^[0-9a-f-]{36}$/);
});

test("storage quota exceeded: falls back to memory, says so once, delivers", async ({ page, fp, collector }) => {
  const warnings: string[] = [];
  page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
  await page.addInitScript(() => {
    const chunk = "x".repeat(256 * 1024);
    let i = 0;
    try { for (;;) localStorage.setItem(`filler:${i++}`, chunk); } catch {}
    try { for (;;) localStorage.setItem(`filler-small:${i++}`, "x".repeat(512)); } catch {}
  });
  await open(page, fp, { flushIntervalMs: 300 });
  const ids = [...(await track(page, 3)), ...(await track(page, 3))];
  await expectStoredOnce(collector, ids);
  const said = (await errors(page)).filter((e) => e.code === "storage_unavailable");
  expect(said.length).toBe(1);
  expect(warnings.filter((w) => w.includes("kept in memory")).length).toBe(1);
});

test("a full queue drops the oldest, reports them, and records the loss as an event", async ({ page, fp, collector }) => {
  await open(page, fp, { maxQueuedEvents: 5 });
  await goOffline(page);
  const ids = await track(page, 8);
  // Listeners hear of it in a later task (on('error') never runs inside a call).
  await expect.poll(async () => (await errors(page)).some((e) => e.code === "queue_overflow")).toBe(true);
  const overflow = (await errors(page)).filter((e) => e.code === "queue_overflow");
  const dropped = overflow.flatMap((e) => e.eventIds);
  expect(dropped.length).toBeGreaterThan(0);
  expect(await queued(page)).toBeLessThanOrEqual(5);
  await page.context().setOffline(false);
  const kept = ids.filter((id) => !dropped.includes(id));
  // The oldest went first.
  expect(ids.slice(0, dropped.filter((d) => ids.includes(d)).length).every((id) => dropped.includes(id))).toBe(true);
  await expectStoredOnce(collector, kept);
  // Every tracked event is either stored once or reported dropped — never both, never neither.
  const stored = (await collector.events({ type: "track" })).map((e) => e.id);
  for (const id of ids) expect(Number(stored.includes(id)) + Number(dropped.includes(id))).toBe(1);
  await expect.poll(async () => (await collector.events({ type: "client_error" })).length).toBeGreaterThan(0);
  const loss = (await collector.events({ type: "client_error" })).at(-1)!;
  expect(loss).toMatchObject({ code: "queue_overflow" });
});

test("events dropped from a full queue by later calls leave storage too, and are never sent", async ({ page, fp, collector }) => {
  await open(page, fp, { maxQueuedEvents: 5 });
  await goOffline(page);
  // One call per task, so the first five are in storage before the next ones drop them.
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) ids.push(...(await track(page, 1)));
  // The page queues events of its own too, so at least three of ours went, the oldest first.
  const droppedOf = async () => (await errors(page)).filter((e) => e.code === "queue_overflow").flatMap((e) => e.eventIds).filter((id) => ids.includes(id));
  await expect.poll(async () => (await droppedOf()).length).toBeGreaterThanOrEqual(3);
  const dropped = await droppedOf();
  expect(dropped.sort()).toEqual(ids.slice(0, dropped.length).sort());
  expect(await queued(page, dropped)).toBe(0);
  expect(await queued(page, ids.slice(dropped.length))).toBe(8 - dropped.length);
  // Back online, the flush lists storage again (other tabs' events): a dropped event left there would be sent.
  await page.context().setOffline(false);
  await expectStoredOnce(collector, ids.slice(dropped.length));
});

test("an oversized event is refused at track() with a clear error and never sent", async ({ page, fp, collector }) => {
  await open(page, fp);
  const id = await page.evaluate(() => (window as any).Touchpoint.track("huge", { blob: "x".repeat(40_000) }));
  expect(id).toBeUndefined();
  const e = (await errors(page)).find((x) => x.code === "event_too_large")!;
  expect(e.message).toMatch(/over the 32768 bytes the collector accepts/);
  const ok = await track(page, 1);
  await expectStoredOnce(collector, ok);
  expect((await collector.events({ type: "track" })).some((x) => x.name === "huge")).toBe(false);
});

test("an event the collector rejects goes to the dead-letter list and is not retried", async ({ page, fp, collector }) => {
  // Planted as if an older page had queued it: a valid event, but over the collector's size limit.
  await page.addInitScript(() => {
    if (sessionStorage.getItem("seeded")) return;
    sessionStorage.setItem("seeded", "1");
    const ev = { id: "11111111-1111-4111-8111-111111111111", ts: Date.now(), anonymous_id: "a", url: location.href,
                 type: "track", name: "e2e_event", props: { blob: "y".repeat(40_000) } };
    localStorage.setItem(`touchpoint:pk_demo:q:${String(ev.ts).padStart(13, "0")}.000000:${ev.id}`, JSON.stringify(ev));
  });
  await open(page, fp);
  const ids = await track(page, 2);
  await expectStoredOnce(collector, ids);
  await expect
    .poll(async () => (await errors(page)).filter((e) => e.code === "event_rejected").flatMap((e) => e.eventIds))
    .toEqual(["11111111-1111-4111-8111-111111111111"]);
  const dead = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("touchpoint:pk_demo:dead:")));
  expect(dead.length).toBe(1);
  await page.waitForTimeout(1500);
  expect(fp.forwarded.filter((id) => id.startsWith("11111111")).length).toBe(1);
});

test("storage unavailable (as in some private modes): works from memory and says so once", async ({ page, fp, collector }) => {
  const warnings: string[] = [];
  page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
  await page.addInitScript(() => {
    Object.defineProperty(window, "localStorage", {
      configurable: true,
      get() { throw new DOMException("The operation is insecure.", "SecurityError"); },
    });
  });
  await open(page, fp);
  const ids = [...(await track(page, 2)), ...(await track(page, 2))];
  await expectStoredOnce(collector, ids);
  expect((await errors(page)).filter((e) => e.code === "storage_unavailable").length).toBe(1);
  expect(warnings.filter((w) => w.includes("kept in memory")).length).toBe(1);
});

test("without Web Locks, two tabs sharing the queue still store every event exactly once", async ({ context, fp, collector }) => {
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "locks", { configurable: true, get: () => undefined });
  });
  const [a, b] = [await context.newPage(), await context.newPage()];
  await Promise.all([open(a, fp), open(b, fp)]);
  expect(await a.evaluate(() => (navigator as any).locks)).toBeUndefined();
  const batches = await Promise.all(
    [a, b].flatMap((p) => [0, 1, 2, 3].map(async (i) => {
      await p.waitForTimeout(i * 41);
      return track(p, 5);
    })),
  );
  const ids = batches.flat();
  // What the fallback guarantees: every event stored exactly once.
  await expectStoredOnce(collector, ids);
  // A storage lease cannot make sends across renderer processes strictly exclusive (their
  // writes reach each other late, and under load very late), so double sends are possible
  // here; the collector's dedupe keeps them from counting. Every event did go out.
  expect(new Set(forwardedOf(fp, ids)).size).toBe(ids.length);
});
