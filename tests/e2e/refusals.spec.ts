// Refusals cost no events. A request the collector (or a proxy, a gateway, a CDN) refuses as a
// whole pauses the queue with backoff and keeps every event; a 413 splits the batch; only an
// event the collector rejects by itself leaves the queue, named on the console and kept with
// the dead letters, which can be replayed. Real Chromium, a fault proxy, the real collector.
import type { Page } from "@playwright/test";
import { expect, goOffline, Collector, StoredEvent } from "./collector";
import { FaultProxy, test as base } from "./faultproxy";

/** Console warnings and errors, as the host page's developer sees them. */
const test = base.extend<{ consoleMessages: string[] }>({
  consoleMessages: async ({ page }, use) => {
    const seen: string[] = [];
    page.on("console", (m) => { if (m.type() === "warning" || m.type() === "error") seen.push(m.text()); });
    await use(seen);
  },
});

async function open(page: Page, fp: FaultProxy, opts: Record<string, string> = {}) {
  await page.goto(`${fp.url}/fixture/queue.html?${new URLSearchParams({ flushIntervalMs: "50", ...opts })}`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

async function track(page: Page, n: number, name = "e2e_event"): Promise<string[]> {
  const ids: string[] = await page.evaluate(
    ([n, name]) => Array.from({ length: n as number }, (_, i) => (window as any).Touchpoint.track(name, { i })),
    [n, name] as const,
  );
  for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return ids;
}

const errors = (page: Page) => page.evaluate(() => (window as any).tpErrors as { code: string; message: string; eventIds: string[] }[]);

async function storedTracks(c: Collector, name = "e2e_event"): Promise<StoredEvent[]> {
  return (await c.events({ type: "track" })).filter((e) => e.name === name);
}

/** Waits until exactly `ids` are stored, each once. */
async function expectStoredOnce(c: Collector, ids: string[], name = "e2e_event") {
  await expect
    .poll(async () => (await storedTracks(c, name)).map((e) => e.id).sort(), { timeout: 30_000 })
    .toEqual([...ids].sort());
}

const keys = (page: Page, part: string) =>
  page.evaluate((part) => Object.keys(localStorage).filter((k) => k.startsWith(`touchpoint:pk_demo:${part}:`)), part);

/** Whether event `id` waits in the queue (1) or not (0). The page queues events of its own too
 * (`checklist_shown`, …), so tests name the events they look for. */
const queuedAs = async (page: Page, id: string) => (await keys(page, "q")).filter((k) => k.endsWith(`:${id}`)).length;

/** Plants events as an earlier page would have queued them (oldest first). */
async function plant(page: Page, events: object[]) {
  await page.addInitScript((events) => {
    if (sessionStorage.getItem("planted")) return;
    sessionStorage.setItem("planted", "1");
    events.forEach((e: any, i) => {
      const ev = { ts: Date.now() - 60_000 + i, anonymous_id: "a", url: location.href, ...e };
      localStorage.setItem(`touchpoint:pk_demo:q:${String(ev.ts).padStart(13, "0")}.000000:${ev.id}`, JSON.stringify(ev));
    });
  }, events);
}

for (const status of [403, 404, 413]) {
  test(`300 events queued offline, then 3 s of ${status}, then healthy: all 300 are stored exactly once`, async ({ page, fp, collector }) => {
    test.setTimeout(60_000);
    await open(page, fp);
    await goOffline(page);
    const ids = await track(page, 300);
    await expect.poll(async () => (await keys(page, "q")).length).toBeGreaterThanOrEqual(300);
    const healthyAt = fp.refuseFor(3000, status);
    await page.context().setOffline(false);
    await expectStoredOnce(collector, ids);
    // The window was met, and nothing of ours was given up on.
    const refused = fp.posts.filter((p) => p.fault === "window");
    expect(refused.length).toBeGreaterThan(0);
    expect(await keys(page, "dead")).toEqual([]);
    expect((await errors(page)).filter((e) => e.code === "event_rejected")).toEqual([]);
    expect((await errors(page)).some((e) => e.code === "delivery_failed" && e.message.includes(`HTTP ${status}`))).toBe(true);
    // Each event crossed to the collector once: the refused requests never reached it.
    expect(fp.forwarded.filter((id) => ids.includes(id)).length).toBe(300);
    const after = fp.posts.filter((p) => p.at >= healthyAt && !p.fault && p.ids.some((id) => ids.includes(id)));
    if (status === 413) {
      // Split: the batches that got through were smaller than the 100 refused.
      expect(Math.max(...refused.map((p) => p.ids.length))).toBe(100);
      expect(after[0].ids.length).toBeLessThan(100);
      expect(Math.min(...refused.map((p) => p.ids.length))).toBeGreaterThan(1);
    } else {
      expect(after[0].ids.length).toBe(100);
    }
    await expect.poll(async () => (await keys(page, "q")).length).toBe(0);
  });
}

test("a proxy's body limit: the batch is halved until it fits; an event too big even alone is set aside, named", async ({ page, fp, collector, consoleMessages }) => {
  fp.maxBodyBytes = 6000;
  const big = { id: "22222222-2222-4222-8222-222222222222", type: "track", name: "e2e_big", props: { blob: "z".repeat(7000) } };
  await plant(page, [big]);
  await open(page, fp, { flushIntervalMs: "2000" });
  const ids = await track(page, 60); // ~10 KB: over the limit together, under it in halves
  await expectStoredOnce(collector, ids);
  expect(fp.posts.filter((p) => p.fault === "limit").length).toBeGreaterThan(0);
  for (const p of fp.posts.filter((p) => !p.fault)) expect(p.bytes).toBeLessThanOrEqual(6000);
  // The big one alone was still refused: it left the queue for the dead letters, named.
  await expect.poll(async () => (await keys(page, "dead")).length).toBe(1);
  expect(await queuedAs(page, big.id)).toBe(0);
  expect(consoleMessages.some((m) => m.includes('track "e2e_big"') && m.includes("413"))).toBe(true);
  await expect.poll(async () => (await errors(page)).find((e) => e.code === "event_rejected")?.eventIds).toEqual([big.id]);
});

test("Retry-After: 0 (or a date in the past) means at most one retry per second", async ({ page, fp, collector }) => {
  test.setTimeout(45_000);
  await open(page, fp);
  for (const retryAfter of ["0", "Thu, 01 Jan 1970 00:00:00 GMT"]) {
    fp.posts = [];
    const healthyAt = fp.refuseFor(4000, 503, { "retry-after": retryAfter });
    const ids = await track(page, 2, `e2e_retry_${retryAfter.length}`);
    await expectStoredOnce(collector, ids, `e2e_retry_${retryAfter.length}`);
    const tries = fp.posts.filter((p) => p.fault === "window");
    // 4 s of refusals: the first try, then one a second at most.
    expect(tries.length).toBeGreaterThanOrEqual(2);
    expect(tries.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < tries.length; i++) expect(tries[i].at - tries[i - 1].at).toBeGreaterThanOrEqual(950);
    // Back to normal: the first try after the window got through, a second or so after the last refusal.
    const through = fp.posts.find((p) => p.at >= healthyAt && p.ids.some((id) => ids.includes(id)))!;
    expect(through.fault).toBeUndefined();
    expect(through.at - tries[tries.length - 1].at).toBeLessThan(2500);
  }
});

test("an event the collector rejects by itself is dropped and named; the others are stored; dead letters replay", async ({ page, fp, collector, consoleMessages }) => {
  const bogus = { id: "33333333-3333-4333-8333-333333333333", type: "survey_exploded", survey_id: "nps" };
  await plant(page, [bogus]);
  await open(page, fp);
  const ids = await track(page, 3);
  await expectStoredOnce(collector, ids);
  // Named on the console (its type and the collector's reason) and to on("error").
  await expect.poll(() => consoleMessages.filter((m) => m.includes('"survey_exploded"')).length).toBe(1);
  const named = consoleMessages.find((m) => m.includes('"survey_exploded"'))!;
  expect(named).toMatch(/unknown variant/);
  // (Listeners hear of it in a task of their own.)
  await expect
    .poll(async () => (await errors(page)).filter((e) => e.code === "event_rejected").map((e) => e.eventIds))
    .toEqual([[bogus.id]]);
  // Out of the queue, into the dead letters; not retried.
  expect(await queuedAs(page, bogus.id)).toBe(0);
  expect((await keys(page, "dead")).length).toBe(1);
  await page.waitForTimeout(1500);
  expect(fp.forwarded.filter((id) => id === bogus.id).length).toBe(1);

  // debug() shows it, with the call that replays it.
  await page.evaluate(() => (window as any).Touchpoint.debug());
  const overlay = page.getByRole("region", { name: "Touchpoint debug" });
  await expect(overlay).toContainText("survey_exploded");
  await expect(overlay).toContainText("unknown variant");
  await expect(overlay).toContainText("Touchpoint.replayDeadLetters()");
  // Replayed: sent again (and, still bogus, rejected again and kept again).
  expect(await page.evaluate(() => (window as any).Touchpoint.replayDeadLetters())).toBe(1);
  await expect.poll(() => fp.forwarded.filter((id) => id === bogus.id).length).toBe(2);
  await expect.poll(async () => (await keys(page, "dead")).length).toBe(1);
  expect(await queuedAs(page, bogus.id)).toBe(0);
  // Nothing was stored twice.
  expect((await storedTracks(collector)).length).toBe(3);
});
