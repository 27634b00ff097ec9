// Surveys that show on their own, from the collector's remote config (--targeting):
// by URL (followed through pushState), by event count (across a reload), by trait,
// after a delay; the recontact period across reloads and devices with the page clock
// under control; and identity verification refusing a forged user id.
// Real collector binary on 127.0.0.1, real widget build, Debian chromium.
import { test, expect, root, Collector } from "./collector-extra";
import { card } from "./collector";
import type { Page } from "@playwright/test";
import { createHmac } from "node:crypto";
import { cpSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

declare const Touchpoint: any;

const here = dirname(fileURLToPath(import.meta.url));
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse("2026-03-02T09:00:00Z");
const IDENTITY_SECRET = "e2e-identity-secret-0123456789";
/** A projects file's secret key: long and random, as the collector requires of one. */
const PROJECT_SECRET = "sk_e2e_9b3f7d1a5c8e2b6f4a0d";

type Start = (extra: (dir: string) => string[]) => Promise<Collector>;

/** The collector with `targeting` as its targeting file, serving the demo site plus the test pages. */
function withTargeting(start: Start, targeting: object, more: (dir: string) => string[] = () => []) {
  return start((dir) => {
    const www = join(dir, "www");
    cpSync(join(root, "www"), www, { recursive: true });
    cpSync(join(here, "fixtures/www"), www, { recursive: true });
    writeFileSync(join(dir, "targeting.json"), JSON.stringify(targeting));
    return ["--www-dir", www, "--targeting", join(dir, "targeting.json"), ...more(dir)];
  });
}

/** Every request the page makes for a survey definition (a decision to show one). */
function surveyFetches(page: Page): string[] {
  const urls: string[] = [];
  page.on("request", (r) => { if (r.url().includes("/v1/surveys/")) urls.push(r.url()); });
  return urls;
}

/**
 * Opens the test page (query `q`) and waits until the widget has its remote config,
 * then a little longer: long enough for a decision to show to fetch the definition.
 */
async function open(page: Page, c: Collector, q: Record<string, string> = {}) {
  const config = page.waitForResponse((r) => r.url().includes("/v1/config"));
  await page.goto(`${c.url}/targeting.html?${new URLSearchParams(q)}`);
  expect((await config).status()).toBe(200);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

async function settles(page: Page) {
  await page.waitForTimeout(600);
}

test("targeting by URL: withheld on other pages, shown once the SPA navigates to a matching path", async ({ page, startCollector }) => {
  const c = await withTargeting(startCollector, { surveys: [{ id: "nps", targeting: { urls: ["/app/*"] } }] });
  const fetches = surveyFetches(page);
  await open(page, c);
  await settles(page);
  expect(fetches).toEqual([]);
  await expect(card(page)).toHaveCount(0);

  await page.click("#to-reports");
  await expect(card(page)).toBeVisible();
  const anon = await page.evaluate(() => localStorage.getItem("touchpoint:pk_demo:anonymous_id"));
  const shown = await c.eventsUntil({ anonymous_id: anon!, type: "survey_shown" }, (evs) => evs.length === 1);
  expect(shown[0].url).toBe(`${c.url}/app/reports`);
});

test("targeting by event count: shown after the 3rd report_created, counting across a reload", async ({ page, startCollector }) => {
  const c = await withTargeting(startCollector, {
    surveys: [{ id: "nps", targeting: { event: { name: "report_created", count: 3 } } }],
  });
  const fetches = surveyFetches(page);
  await open(page, c);
  await page.evaluate(() => { Touchpoint.track("report_created"); Touchpoint.track("other_thing"); Touchpoint.track("report_created"); });
  await settles(page);
  expect(fetches).toEqual([]);
  await expect(card(page)).toHaveCount(0);

  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await settles(page);
  await expect(card(page)).toHaveCount(0);
  // why() in the same task as the track() already counts it.
  const verdict = await page.evaluate(() => { Touchpoint.track("report_created"); return Touchpoint.why("nps"); });
  expect(verdict).toMatchObject({ eligible: true });
  await expect(card(page)).toBeVisible();
});

test("targeting by trait: a trial user is not asked, a pro user is", async ({ browser, startCollector }) => {
  const c = await withTargeting(startCollector, {
    surveys: [{ id: "nps", targeting: { traits: { plan: { in: ["pro", "team"] } } } }],
  });
  const trial = await (await browser.newContext()).newPage();
  const fetches = surveyFetches(trial);
  await open(trial, c, { user: "tess", traits: JSON.stringify({ plan: "trial" }) });
  await settles(trial);
  expect(fetches).toEqual([]);
  await expect(card(trial)).toHaveCount(0);

  const pro = await (await browser.newContext()).newPage();
  await open(pro, c, { user: "pat", traits: JSON.stringify({ plan: "pro" }) });
  await expect(card(pro)).toBeVisible();
});

test("delay after page load: the survey waits for it", async ({ page, startCollector }) => {
  const c = await withTargeting(startCollector, { surveys: [{ id: "nps", targeting: { delay_ms: 60_000 } }] });
  await page.clock.install({ time: T0 });
  const fetches = surveyFetches(page);
  await open(page, c);
  await settles(page);
  expect(fetches).toEqual([]);
  await page.clock.runFor(55_000);
  await settles(page);
  await expect(card(page)).toHaveCount(0);
  await page.clock.runFor(6_000);
  await expect(card(page)).toBeVisible();
});

test("recontact period: a dismissed NPS survey stays away 90 days, across reloads and on another device", async ({ browser, startCollector }) => {
  const c = await withTargeting(startCollector, { surveys: [{ id: "nps", recontact_days: 90 }] });
  const laptop = await browser.newContext();
  await laptop.clock.install({ time: T0 });
  const page = await laptop.newPage();
  await open(page, c, { user: "ada" });
  await expect(card(page)).toBeVisible();
  await card(page).getByRole("button", { name: "Close survey" }).click();
  await expect(card(page)).toHaveCount(0);
  const stored = await c.eventsUntil({ type: "survey_dismissed" }, (evs) => evs.some((e) => e.user_id === "ada"));
  expect(stored.filter((e) => e.user_id === "ada")).toHaveLength(1);

  // Same browser, reloaded: not again.
  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await settles(page);
  await expect(card(page)).toHaveCount(0);

  // 89 days later, on the laptop and on a phone that never saw it (only the collector knows).
  await laptop.clock.setSystemTime(T0 + 89 * DAY);
  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await settles(page);
  await expect(card(page)).toHaveCount(0);
  const phone = await browser.newContext();
  await phone.clock.install({ time: T0 + 89 * DAY });
  const phonePage = await phone.newPage();
  const phoneFetches = surveyFetches(phonePage);
  await open(phonePage, c, { user: "ada" });
  await settles(phonePage);
  expect(phoneFetches).toEqual([]);
  await expect(card(phonePage)).toHaveCount(0);
  // Someone else on that phone's day is asked: it is Ada's history that holds it back.
  const other = await (await browser.newContext()).newPage();
  await open(other, c, { user: "bo" });
  await expect(card(other)).toBeVisible();

  // 91 days later: asked again.
  await laptop.clock.setSystemTime(T0 + 91 * DAY);
  await page.reload();
  await expect(card(page)).toBeVisible();
  const shown = await c.eventsUntil({ type: "survey_shown" }, (evs) => evs.filter((e) => e.user_id === "ada").length === 2);
  const times = shown.filter((e) => e.user_id === "ada").map((e) => e.ts);
  expect(times[1] - times[0]).toBeGreaterThanOrEqual(90 * DAY);
});

test("identity verification: a forged user hash is refused, the real one is believed", async ({ browser, startCollector }) => {
  const c = await withTargeting(startCollector, { surveys: [{ id: "nps", targeting: { urls: ["/never"] } }] }, (dir) => {
    const projects = join(dir, "projects.json");
    writeFileSync(projects, JSON.stringify([{
      public_key: "pk_demo", secret_key: PROJECT_SECRET, allowed_origins: ["*"], identity_secret: IDENTITY_SECRET,
    }]));
    return ["--projects", projects];
  });
  c.secret = PROJECT_SECRET;
  const hash = (user: string) => createHmac("sha256", IDENTITY_SECRET).update(user).digest("hex");

  // Mallory claims to be Ada with a hash made under another secret.
  const mallory = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  mallory.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await mallory.goto(`${c.url}/targeting.html?${new URLSearchParams({ user: "ada", hash: createHmac("sha256", "guess").update("ada").digest("hex") })}`);
  await mallory.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  const forgedId = await mallory.evaluate(() => Touchpoint.track("exported_everything"));
  await expect.poll(() => mallory.evaluate(() => JSON.stringify((window as any).tpErrors)), { timeout: 10_000 })
    .toContain("user_hash is not the HMAC-SHA256 of this user_id");
  // The identify made at load may go out (and be rejected) in an earlier batch than the track: wait for the track's.
  await expect.poll(() => mallory.evaluate((id) => (window as any).tpErrors.some((e: any) => e.code === "event_rejected" && e.eventIds.includes(id)), forgedId), { timeout: 10_000 })
    .toBe(true);
  // Her reads about Ada are refused too.
  await expect.poll(() => errors.join("\n")).toContain("403");

  // Ada, with the hash her app's backend computed.
  const ada = await (await browser.newContext()).newPage();
  await open(ada, c, { user: "ada", hash: hash("ada") });
  const realId = await ada.evaluate(() => Touchpoint.track("exported_report"));
  const stored = await c.eventsUntil({ type: "track" }, (evs) => evs.some((e) => e.id === realId));
  expect(stored.filter((e) => e.user_id === "ada").map((e) => e.id)).toEqual([realId]);
  expect(stored.some((e) => e.id === forgedId)).toBe(false);
  expect(stored.every((e) => !("user_hash" in e))).toBe(true);
});

test("the demo, with the repository's targeting.json, asks by itself on the projects page, and not again", async ({ page, startCollector }) => {
  const c = await startCollector(() => ["--targeting", join(root, "targeting.json")]);
  await page.goto(`${c.url}/settings.html`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await page.waitForTimeout(2_000);
  await expect(card(page)).toHaveCount(0);
  await page.goto(`${c.url}/`);
  await expect(card(page)).toBeVisible({ timeout: 8_000 });
  await expect(card(page)).toContainText("How likely are you to recommend");
  await card(page).getByRole("button", { name: "Close survey" }).click();
  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await page.waitForTimeout(2_000);
  await expect(card(page)).toHaveCount(0);
});
