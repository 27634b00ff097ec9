// The attention budget end to end: two eligible surveys take turns with the
// cooldown between them; a host <dialog>, setBusy and typing defer a survey; a nudge opens
// the checklist without taking focus; why() names the blocking rule with its figures for
// each case; the debug overlay lists every experience. Real collector with --targeting,
// real widget build, Debian chromium, the page clock under the test's control.
import { test, expect, root, Collector, artifacts } from "./collector-extra";
import type { Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { cpSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

declare const Touchpoint: any;

/** Our survey card (the page has a dialog of its own, so not just any role=dialog). */
const card = (page: Page) => page.locator('touchpoint-widget[data-touchpoint="survey"]').getByRole("dialog");

const here = dirname(fileURLToPath(import.meta.url));
const HOUR = 60 * 60 * 1000;
const T0 = Date.parse("2026-03-02T09:00:00Z");

type Start = (extra: (dir: string) => string[]) => Promise<Collector>;

function withTargeting(start: Start, targeting: object) {
  return start((dir) => {
    const www = join(dir, "www");
    cpSync(join(root, "www"), www, { recursive: true });
    cpSync(join(here, "fixtures/www"), www, { recursive: true });
    writeFileSync(join(dir, "targeting.json"), JSON.stringify(targeting));
    return ["--www-dir", www, "--targeting", join(dir, "targeting.json")];
  });
}

async function open(page: Page, c: Collector, q: Record<string, string> = {}) {
  const config = page.waitForResponse((r) => r.url().includes("/v1/config"));
  await page.goto(`${c.url}/targeting.html?${new URLSearchParams(q)}`);
  expect((await config).status()).toBe(200);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

/** `why(id)` once the widget has a verdict for it (the config may still be on its way). */
async function why(page: Page, id: string) {
  await expect.poll(() => page.evaluate((id) => Touchpoint.why(id).rule, id)).not.toBe("not_loaded");
  return page.evaluate((id) => Touchpoint.why(id), id);
}

test("two eligible surveys: the higher priority shows, the other waits for it to end and for the cooldown", async ({ page, startCollector }) => {
  const c = await withTargeting(startCollector, {
    cooldown_hours: 1,
    surveys: [{ id: "csat", priority: 1 }, { id: "nps", priority: 5 }],
  });
  await page.clock.install({ time: T0 });
  await open(page, c);
  await expect(card(page)).toContainText("How likely are you to recommend");
  expect(await why(page, "nps")).toMatchObject({ id: "nps", kind: "survey", eligible: false, rule: "on_screen" });
  expect(await why(page, "csat")).toMatchObject({
    eligible: false, rule: "on_screen", reason: 'waiting: survey "nps" is on screen', data: { survey: "nps" },
  });

  await card(page).getByRole("button", { name: "Close survey" }).click();
  await expect(card(page)).toHaveCount(0);
  expect(await why(page, "csat")).toMatchObject({
    rule: "cooldown", reason: "cooldown: something was shown 0 hours ago, needs 1", data: { needs_hours: 1, hours_ago: 0 },
  });
  expect(await why(page, "nps")).toMatchObject({ rule: "recontact", data: { needs_days: 90, days_ago: 0 } });
  await page.waitForTimeout(700);
  await expect(card(page)).toHaveCount(0);

  // The cooldown passes while the page is open: the waiting survey's timer fires.
  await page.clock.runFor(HOUR + 1000);
  await expect(card(page)).toContainText("How satisfied are you with reports?");
  const anon = await page.evaluate(() => localStorage.getItem("touchpoint:pk_demo:anonymous_id"));
  const shown = await c.eventsUntil({ anonymous_id: anon!, type: "survey_shown" }, (evs) => evs.length === 2);
  expect(shown.map((e) => e.survey_id)).toEqual(["nps", "csat"]);
  expect(shown[1].ts - shown[0].ts).toBeGreaterThanOrEqual(HOUR);
});

test("an open host <dialog>, setBusy(true) and typing defer a survey until they end", async ({ page, startCollector }) => {
  const c = await withTargeting(startCollector, { surveys: [{ id: "nps", targeting: { urls: ["/app/*"] } }] });
  await open(page, c);
  expect(await why(page, "nps")).toMatchObject({ rule: "url", reason: "URL /targeting.html does not match /app/*" });

  // A modal of the page's own is open when the survey becomes due.
  await page.evaluate(() => (document.getElementById("modal") as HTMLDialogElement).showModal());
  await page.evaluate(() => history.pushState({}, "", "/app/reports"));
  expect(await why(page, "nps")).toMatchObject({ rule: "busy", reason: "waiting: a dialog of the page is open", data: { busy: "modal" } });
  await page.waitForTimeout(1200);
  await expect(card(page)).toHaveCount(0);
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(card(page)).toBeVisible();
  await card(page).getByRole("button", { name: "Close survey" }).click();

  // setBusy and typing, on a page where it is due again (a fresh visitor).
  const fresh = await (await page.context().browser()!.newContext()).newPage();
  await fresh.goto(`${c.url}/targeting.html`);
  await fresh.evaluate(() => Touchpoint.setBusy(true));
  await fresh.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await fresh.getByLabel("Find projects").click();
  await fresh.evaluate(() => history.pushState({}, "", "/app/reports"));
  expect(await why(fresh, "nps")).toMatchObject({ rule: "busy", data: { busy: "host" } });
  await fresh.evaluate(() => Touchpoint.setBusy(false));
  expect(await why(fresh, "nps")).toMatchObject({ rule: "busy", reason: "waiting: the user is typing in a field", data: { busy: "typing" } });
  await fresh.waitForTimeout(1200);
  await expect(card(fresh)).toHaveCount(0);
  await fresh.getByRole("heading", { name: "Targeting test page" }).click();
  await expect(card(fresh)).toBeVisible();
});

test("why() names the rule for each blocked case, with its figures", async ({ page, startCollector }) => {
  const c = await withTargeting(startCollector, {
    per_session: 5,
    surveys: [
      { id: "nps", targeting: { event: { name: "report_created", count: 3 } } },
      { id: "csat", targeting: { traits: { plan: { in: ["pro"] } }, sample_percent: 0 } },
    ],
    nudges: [{ id: "finish-setup", opens: "checklist", targeting: { min_days_since_first_seen: 7 } }],
  });
  await open(page, c, { user: "wyatt", traits: JSON.stringify({ plan: "trial", team_size: 4 }) });
  await page.evaluate(() => Touchpoint.track("report_created"));
  await expect.poll(() => page.evaluate(() => Touchpoint.why("nps"))).toMatchObject({
    eligible: false, rule: "event", reason: "event report_created: 1 of 3", data: { event: "report_created", count: 1, needs: 3 },
  });
  expect(await why(page, "csat")).toMatchObject({
    rule: "traits", reason: 'trait plan: "trial" is not one of ["pro"]', data: { trait: "plan", value: "trial" },
  });
  expect(await why(page, "finish-setup")).toMatchObject({
    kind: "nudge", opens: "checklist", rule: "first_seen", data: { days_ago: 0, needs_days: 7 },
  });
  expect(await why(page, "nope")).toMatchObject({
    eligible: false, rule: "unknown", reason: 'no experience "nope" in the remote config (known: nps, csat, finish-setup)',
  });

  // A pro user is sampled out of csat (0 %): the bucket is named.
  await page.evaluate(() => Touchpoint.identify("wyatt", { plan: "pro" }));
  await expect.poll(() => page.evaluate(() => Touchpoint.why("csat").rule)).toBe("sampling");
  expect((await why(page, "csat")).reason).toMatch(/^sampled out \(bucket \d+ ≥ 0\)$/);
});

test("a nudge opens the checklist without taking focus, once; the debug overlay lists every verdict", async ({ page, startCollector }) => {
  const c = await withTargeting(startCollector, {
    kinds: { nudge: { cooldown_hours: 24 } },
    surveys: [{ id: "nps", targeting: { urls: ["/app/*"] } }],
    nudges: [{ id: "finish-setup", opens: "checklist", recontact_days: 7 }],
  });
  await page.goto(`${c.url}/targeting.html?touchpoint_debug=1&user=nia&traits=${encodeURIComponent(JSON.stringify({ team_size: 4 }))}`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await page.getByLabel("Find projects").focus();
  await page.getByLabel("Find projects").blur();
  await expect(page.getByRole("region", { name: "Get started with Acme Projects" })).toBeVisible();
  // Opened unasked: focus stays with the page.
  expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);

  const overlay = page.locator('touchpoint-widget[data-touchpoint="debug"]');
  await expect(overlay.getByText("Touchpoint debug")).toBeVisible();
  for (const id of ["nps", "finish-setup"]) {
    await expect(overlay.locator(`[data-experience="${id}"]`)).toContainText("on_screen: waiting: the checklist panel is on screen");
  }
  await page.screenshot({ path: join(artifacts, "attention-debug-overlay.png") });
  const axe = await new AxeBuilder({ page }).include('touchpoint-widget[data-touchpoint="debug"]').analyze();
  expect(axe.violations).toEqual([]);

  const anon = await page.evaluate(() => localStorage.getItem("touchpoint:pk_demo:anonymous_id"));
  const nudges = await c.eventsUntil({ anonymous_id: anon!, type: "nudge_shown" }, (evs) => evs.length === 1);
  expect(nudges[0]).toMatchObject({ nudge_id: "finish-setup", opens: "checklist", user_id: "nia" });

  // Closed by the user: it does not come back (recontact), and the overlay says so.
  await page.getByRole("button", { name: "Minimise checklist" }).click();
  await expect(page.getByRole("region", { name: "Get started with Acme Projects" })).toBeHidden();
  await expect(overlay.locator('[data-experience="finish-setup"]')).toContainText("recontact: recontact period: last shown 0 days ago, needs 7");
  await expect(overlay.locator('[data-experience="nps"]')).toContainText("url: URL /targeting.html does not match /app/*");
  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  expect(await why(page, "finish-setup")).toMatchObject({ rule: "recontact", data: { needs_days: 7 } });
  await page.waitForTimeout(700);
  await expect(page.getByRole("region", { name: "Get started with Acme Projects" })).toBeHidden();
});
