// A widget that cannot load fails quietly: a CSP without 'wasm-unsafe-eval', a CDN answering 404.
// Every call is a no-op that answers as documented, nothing reaches the host page as an uncaught
// error or an unhandled rejection, the queue in storage is left for the next page, and the console
// carries exactly one message of ours, naming the cause.
import type { Page } from "@playwright/test";
import { expect } from "./collector";
import { test } from "./faultproxy";

/** Everything the host page's developer would see: console messages, uncaught errors, rejections. */
async function watch(page: Page) {
  const seen = { console: [] as string[], uncaught: [] as string[] };
  page.on("console", (m) => seen.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => seen.uncaught.push(String(e)));
  await page.addInitScript(() => {
    (window as any).rejections = [];
    window.addEventListener("unhandledrejection", (e) => (window as any).rejections.push(String(e.reason)));
    window.addEventListener("error", (e) => (window as any).rejections.push(`error: ${e.message}`));
  });
  return seen;
}

/** An event an earlier page queued and could not send. */
const LEFT_OVER = { id: "44444444-4444-4444-8444-444444444444", type: "track", name: "left_over", props: {} };

async function plantLeftOver(page: Page) {
  await page.addInitScript((e) => {
    const ev = { ts: 1_700_000_000_000, anonymous_id: "a", url: location.href, ...e };
    if (!localStorage.getItem("planted")) {
      localStorage.setItem("planted", "1");
      localStorage.setItem(`touchpoint:pk_demo:q:${String(ev.ts).padStart(13, "0")}.000000:${ev.id}`, JSON.stringify(ev));
    }
  }, LEFT_OVER);
}

const ours = (seen: { console: string[] }) => seen.console.filter((m) => m.includes("[touchpoint]"));

/** What the documented answers of a widget that does nothing are, asked after the failure. */
async function callsAfterFailure(page: Page) {
  return page.evaluate(async () => {
    const T = (window as any).Touchpoint;
    return {
      loaded: T.loaded,
      showSurvey: await T.showSurvey("nps"),
      track: await T.track("later"),
      page: await T.page(),
      identify: await T.identify("bob"),
      showChecklist: await T.showChecklist(),
      replay: await T.replayDeadLetters(),
      early: await (window as any).early,
    };
  });
}

const DOCUMENTED = {
  showSurvey: false,
  track: undefined,
  page: undefined,
  identify: undefined,
  showChecklist: undefined,
  replay: undefined,
  // identify, track, showSurvey, showChecklist, why, on — as queued before the failure.
  early: [undefined, undefined, false, undefined, undefined, false],
};

test("under script-src 'self' without 'wasm-unsafe-eval': calls are no-ops, nothing is thrown, one clear message", async ({ page, fp, collector }) => {
  const seen = await watch(page);
  await plantLeftOver(page);
  await page.goto(`${fp.url}/fixture/nowasm.html`);
  await expect.poll(() => ours(seen).length).toBe(1);
  expect(ours(seen)[0]).toMatch(/^error: /);
  expect(ours(seen)[0]).toContain("add 'wasm-unsafe-eval' to script-src");
  const answers = await callsAfterFailure(page);
  expect(answers.loaded).not.toBe(true);
  expect(answers).toMatchObject(DOCUMENTED);
  await page.waitForTimeout(500);
  expect(seen.uncaught).toEqual([]);
  expect(await page.evaluate(() => (window as any).rejections)).toEqual([]);
  expect(ours(seen).length).toBe(1);
  // The queue is left as it was, for the next page, which sends it.
  const queued = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("touchpoint:pk_demo:q:")));
  expect(queued.length).toBe(1);
  await page.goto(`${fp.url}/fixture/queue.html?flushIntervalMs=50`);
  await collector.eventsUntil({ type: "track" }, (e) => e.some((x) => x.id === LEFT_OVER.id));
});

for (const [what, pattern] of [
  ["the wasm", "**/pkg/touchpoint_bg.wasm"],
  ["the npm entry", "**/pkg/index.js"],
] as const) {
  test(`the CDN answers 404 for ${what}: calls are no-ops, nothing is thrown, one message naming it`, async ({ page, fp }) => {
    const seen = await watch(page);
    await plantLeftOver(page);
    await page.route(pattern, (route) => route.fulfill({ status: 404, body: "not found" }));
    await page.goto(`${fp.url}/fixture/nowasm.html`.replace("nowasm", "queue"));
    await page.evaluate(() => {
      const T = (window as any).Touchpoint;
      (window as any).early = Promise.all([T.identify("ann"), T.track("x"), T.showSurvey("nps"), T.showChecklist(), T.why("nps"), T.on("error", () => {})]);
    });
    await expect.poll(() => ours(seen).length).toBe(1);
    expect(ours(seen)[0]).toMatch(/^error: /);
    expect(ours(seen)[0]).toContain("404");
    expect(ours(seen)[0]).toContain(pattern.slice(3));
    const answers = await callsAfterFailure(page);
    expect(answers.loaded).not.toBe(true);
    expect(answers).toMatchObject(DOCUMENTED);
    await page.waitForTimeout(500);
    expect(seen.uncaught).toEqual([]);
    expect(await page.evaluate(() => (window as any).rejections)).toEqual([]);
    expect(ours(seen).length).toBe(1);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("touchpoint:pk_demo:q:")).length)).toBe(1);
  });
}
