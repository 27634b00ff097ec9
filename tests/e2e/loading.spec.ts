// How the widget loads on a page that asks for a survey at once (the README's embed):
// the loader requests the wasm and the survey definition together, the widget uses that
// response instead of asking again, and the help and checklist wait until the card is up.
// Real collector binary on 127.0.0.1, real widget build, Debian chromium.
import { test, expect, root, Collector } from "./collector-extra";
import { card } from "./collector";
import type { Page, Route } from "@playwright/test";
import { cpSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
type Start = (extra: (dir: string) => string[]) => Promise<Collector>;

/** The collector serving the demo site plus the test pages (among them embed.html). */
function withPages(start: Start) {
  return start((dir) => {
    const www = join(dir, "www");
    cpSync(join(root, "www"), www, { recursive: true });
    cpSync(join(here, "fixtures/www"), www, { recursive: true });
    return ["--www-dir", www];
  });
}

/** Requests whose URL contains `part`, in the order the page made them. */
function requests(page: Page, part: string): string[] {
  const seen: string[] = [];
  page.on("request", (r) => { if (r.url().includes(part)) seen.push(r.url()); });
  return seen;
}

/** Records (in the page's clock) when the survey card's host element is added to the page
 *  (`cardAt`) and when the frame that first shows it starts (`cardFrameAt`: its animation frame callbacks). */
async function recordCardTime(page: Page) {
  await page.addInitScript(() => {
    new MutationObserver((_, o) => {
      if (document.querySelector("touchpoint-widget[data-touchpoint=survey]")) {
        (window as any).cardAt = performance.now();
        requestAnimationFrame(() => {
          (window as any).cardFrameAt = performance.now();
          (window as any).cardFrameEpoch = Date.now(); // the clock events are stamped with
        });
        o.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
}

test("the survey definition is requested while the wasm is still on its way, and only once", async ({ page, startCollector, consoleErrors }) => {
  const c = await withPages(startCollector);
  const surveys = requests(page, "/v1/surveys/");
  // The wasm is held back until the definition has been requested (or 5 s have passed): a
  // widget that fetched the definition only after its code ran would never be let through early.
  let definitionBeforeWasm = false;
  await page.route("**/pkg/touchpoint_bg.wasm", async (route: Route) => {
    const deadline = Date.now() + 5000;
    while (surveys.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    definitionBeforeWasm = surveys.length > 0;
    await route.continue();
  });
  await page.goto(`${c.url}/embed.html`);
  await expect(card(page)).toContainText("How likely are you to recommend");
  expect(definitionBeforeWasm).toBe(true);
  await page.waitForTimeout(300);
  // One request, for the card form (pre-checked by the collector) in the reader's languages.
  expect(surveys).toHaveLength(1);
  expect(surveys[0]).toMatch(new RegExp(`^${c.url}/v1/surveys/nps\\?form=card&key=pk_demo&locale=`));
  expect(consoleErrors).toEqual([]);
});

test("the help and the checklist are fetched only once the first survey's frame is painted", async ({ page, startCollector, consoleErrors }) => {
  const c = await withPages(startCollector);
  await recordCardTime(page);
  await page.goto(`${c.url}/embed.html`);
  await expect(card(page)).toBeVisible();
  // The dock still comes: the help launcher appears after the card.
  await expect(page.locator("touchpoint-widget[data-touchpoint=dock]")).toHaveCount(1);
  const t = await page.evaluate(() => {
    const start = (part: string) => performance.getEntriesByType("resource").find((e) => e.name.includes(part))?.startTime;
    return { frame: (window as any).cardFrameAt as number, help: start("/v1/help"), checklists: start("/v1/checklists?") };
  });
  // Not in the task that adds the card, nor before its frame: they cannot delay its first paint.
  expect(t.frame).toBeGreaterThan(0);
  expect(t.help).toBeGreaterThanOrEqual(t.frame);
  expect(t.checklists).toBeGreaterThanOrEqual(t.frame);
  expect(consoleErrors).toEqual([]);
});

test("a page that asked for a survey gets it without waiting for the browser to idle; one that did not waits", async ({ page, startCollector }) => {
  const c = await withPages(startCollector);
  // A browser that never reports idle time (a page busy every frame): the idle callbacks are kept, not run.
  await page.addInitScript(() => {
    const held: Array<() => void> = ((window as any).heldIdle = []);
    (window as any).requestIdleCallback = (f: () => void) => held.push(f);
  });
  await page.goto(`${c.url}/embed.html`);
  await expect(card(page)).toContainText("How likely are you to recommend");

  // The same embed with a track() call instead of showSurvey(): the widget waits for idle time.
  const embed = await (await fetch(`${c.url}/embed.html`)).text();
  const quiet = embed.replace('Touchpoint.showSurvey("nps");', 'Touchpoint.track("opened_app");');
  expect(quiet).not.toEqual(embed);
  await page.route(`${c.url}/quiet.html`, (route: Route) => route.fulfill({ contentType: "text/html", body: quiet }));
  await page.goto(`${c.url}/quiet.html`);
  await page.waitForFunction(() => (window as any).heldIdle.length > 0);
  await page.waitForTimeout(500);
  expect(await page.evaluate(() => (window as any).Touchpoint.loaded)).toBeFalsy();
  await page.evaluate(() => (window as any).heldIdle.splice(0).forEach((f: () => void) => f()));
  await page.waitForFunction(() => (window as any).Touchpoint.loaded === true);

  // A page whose load never ends (an image that never arrives) still gets its survey, within 2 s.
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  await page.route(`${c.url}/never.png`, async (route: Route) => {
    await held;
    await route.abort().catch(() => {});
  });
  const stuck = embed.replace("<h1>", '<img src="/never.png" alt=""><h1>');
  expect(stuck).not.toEqual(embed);
  await page.route(`${c.url}/stuck.html`, (route: Route) => route.fulfill({ contentType: "text/html", body: stuck }));
  await page.goto(`${c.url}/stuck.html`, { waitUntil: "commit" });
  await expect(card(page)).toContainText("How likely are you to recommend", { timeout: 10_000 });
  expect(await page.evaluate(() => document.readyState)).not.toBe("complete");
  release();
});

test("an early fetch that failed is made again by the widget, without an unhandled error", async ({ page, startCollector }) => {
  const c = await withPages(startCollector);
  const surveys = requests(page, "/v1/surveys/nps");
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  let first = true;
  await page.route("**/v1/surveys/nps?*", (route: Route) => {
    if (first) {
      first = false;
      return route.abort("connectionreset");
    }
    return route.continue();
  });
  await page.goto(`${c.url}/embed.html`);
  await expect(card(page)).toContainText("How likely are you to recommend");
  expect(surveys.length).toBe(2);
  expect(pageErrors).toEqual([]);
});

test("a slow survey holds the help back for 3 s at most", async ({ page, startCollector }) => {
  const c = await withPages(startCollector);
  await recordCardTime(page);
  await page.route("**/v1/surveys/nps?*", async (route: Route) => {
    await new Promise((r) => setTimeout(r, 8000));
    await route.continue().catch(() => {});
  });
  await page.goto(`${c.url}/embed.html`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  const loadedAt = await page.evaluate(() => performance.now());
  // The help launcher shows while the definition is still held up.
  await expect(page.locator("touchpoint-widget[data-touchpoint=dock]")).toHaveCount(1, { timeout: 6000 });
  const t = await page.evaluate(() => ({
    now: performance.now(),
    help: performance.getEntriesByType("resource").find((e) => e.name.includes("/v1/help"))?.startTime,
    card: (window as any).cardAt,
  }));
  expect(t.card).toBeUndefined();
  expect(t.help! - loadedAt).toBeGreaterThan(2500);
});

test("a server that does not label the wasm application/wasm still gets the widget (compiled from the bytes)", async ({ page, startCollector }) => {
  const c = await withPages(startCollector);
  const wasmRequests = requests(page, "/pkg/touchpoint_bg.wasm");
  await page.route("**/pkg/touchpoint_bg.wasm", async (route: Route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, headers: { ...res.headers(), "content-type": "application/octet-stream" } });
  });
  await page.goto(`${c.url}/embed.html`);
  await expect(card(page)).toContainText("How likely are you to recommend");
  // Streaming compilation was refused, so the loader fetched the bytes again.
  expect(wasmRequests.length).toBe(2);
});

test("the checklist and help panels are a second module: fetched after the card, run only when a panel first opens", async ({ page, startCollector, consoleErrors }) => {
  const c = await withPages(startCollector);
  await recordCardTime(page);
  const panelsModule = requests(page, "/pkg/touchpoint_views");
  await page.goto(`${c.url}/embed.html`);
  await expect(card(page)).toBeVisible();
  const dock = page.locator("touchpoint-widget[data-touchpoint=dock]");
  const launcher = page.getByRole("button", { name: "Help", exact: true });
  await expect(launcher).toBeVisible();
  await expect.poll(() => panelsModule.length).toBe(2); // its glue and its wasm, prefetched once the launchers show
  await page.waitForTimeout(300);
  // The launchers are the first module's. Had the panels' module run, its (hidden) help panel would be in the page.
  expect(await dock.locator(".tp-help-panel").count()).toBe(0);
  const t = await page.evaluate(() => {
    const start = (part: string) => performance.getEntriesByType("resource").find((e) => e.name.includes(part))?.startTime;
    return { frame: (window as any).cardFrameAt as number, js: start("/pkg/touchpoint_views.js"), wasm: start("/pkg/touchpoint_views_bg.wasm") };
  });
  expect(t.js).toBeGreaterThanOrEqual(t.frame);
  expect(t.wasm).toBeGreaterThanOrEqual(t.frame);
  // The first opening runs it: the panel shows, focus moves in, and nothing is fetched again.
  await launcher.click();
  await expect(dock.locator(".tp-help-panel")).toBeVisible();
  await expect(page.getByRole("searchbox", { name: "Search help" })).toBeFocused();
  await expect(launcher).toHaveAttribute("aria-expanded", "true");
  await page.keyboard.press("Escape");
  await expect(dock.locator(".tp-help-panel")).toBeHidden();
  await expect(launcher).toHaveAttribute("aria-expanded", "false");
  await expect(launcher).toBeFocused();
  expect(panelsModule.length).toBe(2);
  expect(consoleErrors).toEqual([]);
});

test("when the second module cannot be loaded, the console says so, no launcher shows and the survey still works", async ({ page, startCollector, consoleErrors }) => {
  const c = await withPages(startCollector);
  await page.route("**/pkg/touchpoint_views*", (route: Route) => route.abort("connectionrefused"));
  await page.goto(`${c.url}/embed.html`);
  await expect(card(page)).toBeVisible();
  await expect.poll(() => consoleErrors.join("\n")).toContain("the checklist, help and targeting could not be loaded");
  await expect(page.getByRole("button", { name: "Help", exact: true })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /^Get started/ })).toHaveCount(0);
  // Calls it would serve answer undefined instead of hanging.
  expect(await page.evaluate(() => (window as any).Touchpoint.why("nps"))).toBeUndefined();
  // The first module is unharmed: the survey answers as before.
  await card(page).getByRole("button", { name: /^9 out of 10/ }).click();
  await expect(card(page).locator(".tp-question")).not.toContainText("How likely are you to recommend");
});

test("survey_shown is recorded once the card's first frame is out, and before the answer", async ({ page, startCollector, consoleErrors }) => {
  const c = await withPages(startCollector);
  await recordCardTime(page);
  await page.goto(`${c.url}/embed.html`);
  await card(page).getByRole("button", { name: /^9 out of 10/ }).click();
  const events = await c.eventsUntil({ type: "survey_answered" }, (evs) => evs.length === 1);
  const all = await c.eventsUntil({}, (evs) => evs.some((e) => e.type === "survey_shown"));
  const shown = all.find((e) => e.type === "survey_shown")!;
  // Stamped after the frame that first showed the card (both by `Date.now()`), not before it.
  const frameAt = await page.evaluate(() => (window as any).cardFrameEpoch as number);
  expect(shown.ts).toBeGreaterThanOrEqual(frameAt);
  expect(shown.ts).toBeLessThanOrEqual(events[0].ts);
  expect(shown.response_id).toBe(events[0].response_id);
  expect(consoleErrors).toEqual([]);
});
