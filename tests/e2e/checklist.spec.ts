// The onboarding checklist end to end: segment from traits, live completion from track(),
// persistence across reloads and browsers (the collector is the source of truth), funnel API.
import type { Browser, Page } from "@playwright/test";
import { test, expect, artifacts, Collector } from "./collector";

async function openAs(page: Page, c: Collector, user: string, teamSize: number, path = "/") {
  await page.goto(`${c.url}${path}?autoshow=0&user=${user}&team_size=${teamSize}`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

const launcher = (page: Page) => page.getByRole("button", { name: /Get started/ });
const panel = (page: Page) => page.getByRole("region", { name: /./ });
const item = (page: Page, title: string) => panel(page).getByRole("button", { name: new RegExp(`^${title}`) });

async function openPanel(page: Page) {
  await launcher(page).click();
  await expect(panel(page)).toBeVisible();
}

test("a small team gets the small-team checklist; a large organisation a different one", async ({ browser, collector }) => {
  const small = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await openAs(small, collector, "dana", 4);
  await expect(launcher(small)).toContainText("0/4");
  await openPanel(small);
  await expect(panel(small).getByRole("heading")).toHaveText("Get started with Acme Projects");
  await expect(item(small, "Import your data")).toBeVisible();
  await small.screenshot({ path: `${artifacts}/checklist-small-team.png` });

  const large = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await openAs(large, collector, "cio_at_megacorp", 400);
  await openPanel(large);
  await expect(panel(large).getByRole("heading")).toHaveText("Roll out Acme across your organisation");
  await expect(item(large, "Book your onboarding call")).toBeVisible();
  await expect(item(large, "Import your data")).toHaveCount(0);
  await large.screenshot({ path: `${artifacts}/checklist-large-org.png` });

  const shown = await collector.eventsUntil({ type: "checklist_shown" }, (e) => e.length >= 2);
  expect(shown.map((e) => [e.user_id, e.checklist_id, e.segment]).sort()).toEqual([
    ["cio_at_megacorp", "rollout", "large_org"],
    ["dana", "get_started", "small_team"],
  ]);
});

test("track() completes items live; progress survives a reload and reaches another browser", async ({ browser, collector }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await openAs(page, collector, "sam", 3);
  await openPanel(page);
  await expect(panel(page)).toContainText("0 of 4 done");
  // The host app's own button tracks the behavior.
  await page.getByRole("button", { name: "New project" }).click();
  await expect(item(page, "Create your first project")).toHaveAccessibleName(/, done$/);
  await expect(panel(page)).toContainText("1 of 4 done");
  await expect(launcher(page)).toContainText("1/4");
  await page.getByRole("button", { name: "Import CSV" }).click();
  await expect(panel(page)).toContainText("2 of 4 done");
  await page.screenshot({ path: `${artifacts}/checklist-progress.png` });

  const done = await collector.eventsUntil({ type: "checklist_item_completed" }, (e) => e.length === 2);
  expect(done.map((e) => [e.item_id, e.rule])).toEqual([
    ["create_project", "event created_project"],
    ["import_data", "event imported_data"],
  ]);

  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await expect(launcher(page)).toContainText("2/4");

  // Another browser (no local copy): the collector's state.
  const other = await (await browser.newContext()).newPage();
  await openAs(other, collector, "sam", 3);
  await expect(launcher(other)).toContainText("2/4");
  await openPanel(other);
  await expect(item(other, "Import your data")).toHaveAccessibleName(/, done$/);
  await expect(item(other, "Invite a teammate")).toHaveAccessibleName(/, to do$/);
  // Completing again elsewhere does not emit a second completion.
  await other.waitForTimeout(1500);
  expect((await collector.events({ type: "checklist_item_completed" })).length).toBe(2);
});

test("behaviors tracked before the widget loaded still count", async ({ page, collector }) => {
  await page.addInitScript(() => {
    document.addEventListener("DOMContentLoaded", () => {
      // The stub from the page's <head> queues this; the wasm has not loaded yet.
      (window as any).__loadedAtTrack = (window as any).Touchpoint?.loaded === true;
      (window as any).Touchpoint.track("connected_integration", { integration: "slack" });
    });
  });
  await openAs(page, collector, "early_bird", 2);
  expect(await page.evaluate(() => (window as any).__loadedAtTrack)).toBe(false);
  await expect(launcher(page)).toContainText("1/4");
  await openPanel(page);
  await expect(item(page, "Connect Slack")).toHaveAccessibleName(/, done$/);
});

test("dependencies, manual completion through a CTA callback, celebration", async ({ page, collector }) => {
  await openAs(page, collector, "it_lead", 120);
  await openPanel(page);
  // Slack depends on inviting five team leads: tracked now, it waits.
  await page.evaluate(() => (window as any).Touchpoint.track("connected_integration", { integration: "teams" }));
  await expect(item(page, "Connect Slack")).toHaveAccessibleName(/, to do$/);
  await item(page, "Book your onboarding call").click();
  await panel(page).getByRole("button", { name: "Pick a time" }).click(); // the demo app calls complete()
  await expect(item(page, "Book your onboarding call")).toHaveAccessibleName(/, done$/);
  await page.evaluate(() => {
    const T = (window as any).Touchpoint;
    T.track("imported_data", { rows: 5000 });
    for (let i = 0; i < 5; i++) T.track("invited_teammate", { role: "lead" });
  });
  await expect(item(page, "Connect Slack")).toHaveAccessibleName(/, done$/); // released by its dependency
  await expect(panel(page).getByRole("status")).toHaveText(/You're all set/);
  await page.waitForTimeout(500); // let the bar and the celebration finish animating for the screenshot
  await page.screenshot({ path: `${artifacts}/checklist-complete.png` });
  const evs = await collector.eventsUntil({ type: "checklist_completed" }, (e) => e.length === 1);
  expect(evs[0]).toMatchObject({ checklist_id: "rollout", user_id: "it_lead" });
  const manual = (await collector.events({ type: "checklist_item_completed" })).find((e) => e.item_id === "book_onboarding");
  expect(manual).toMatchObject({ rule: "complete() called by the host" });
  expect(await page.evaluate(() => (window as any).Touchpoint.complete("no_such_item"))).toBe(false);
});

test("dismissing hides the checklist, and it stays dismissed after a reload", async ({ page, collector }) => {
  await openAs(page, collector, "busy_person", 5);
  await openPanel(page);
  await panel(page).getByRole("button", { name: "Dismiss checklist" }).click();
  await expect(launcher(page)).toBeHidden();
  await collector.eventsUntil({ type: "checklist_dismissed" }, (e) => e.length === 1);
  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await page.waitForTimeout(500);
  await expect(launcher(page)).toBeHidden();
});

test("the checklist is keyboard-operable and passes an axe scan", async ({ page, collector }) => {
  const { default: AxeBuilder } = await import("@axe-core/playwright");
  await openAs(page, collector, "kb_user", 4);
  await launcher(page).focus();
  await page.keyboard.press("Enter");
  await expect(panel(page)).toBeVisible();
  await item(page, "Import your data").focus();
  await page.keyboard.press("Enter");
  await expect(item(page, "Import your data")).toHaveAttribute("aria-expanded", "true");
  await expect(panel(page).getByRole("link", { name: "Import a CSV" })).toBeVisible();
  const results = await new AxeBuilder({ page }).include('touchpoint-widget[data-touchpoint="dock"]').analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await page.keyboard.press("Escape");
  await expect(panel(page)).toBeHidden();
});

test("the funnel API reports who reached each success behavior, per segment", async ({ browser, collector }) => {
  test.setTimeout(60_000);
  const visit = async (user: string, teamSize: number, behaviors: [string, object][]) => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await openAs(page, collector, user, teamSize);
    await expect(launcher(page)).toBeVisible();
    for (const [name, props] of behaviors) await page.evaluate(([n, p]) => (window as any).Touchpoint.track(n, p), [name, props] as const);
    await collector.eventsUntil({ type: "checklist_shown" }, (e) => e.some((x) => x.user_id === user));
    if (behaviors.length) await collector.eventsUntil({ type: "track" }, (e) => e.filter((x) => x.user_id === user).length === behaviors.length);
    await ctx.close();
  };
  await visit("u1", 3, [["created_project", {}], ["imported_data", { rows: 10 }]]);
  await visit("u2", 8, [["created_project", {}], ["imported_data", { rows: 0 }]]); // 0 rows: not an import
  await visit("u3", 2, []);
  await visit("u4", 300, [["imported_data", { rows: 500 }], ["invited_teammate", {}]]);
  const res = await fetch(`${collector.url}/v1/checklists/funnel`, { headers: { authorization: "Bearer sk_demo" } });
  expect(res.status).toBe(200);
  const { segments } = await res.json();
  const bySegment = Object.fromEntries(
    segments.map((s: any) => [s.segment, { users: s.users, items: Object.fromEntries(s.items.map((i: any) => [i.item_id, i.users_completed])) }]),
  );
  expect(bySegment).toEqual({
    large_org: { users: 1, items: { book_onboarding: 0, import_data: 1, invite_five: 0, connect_slack: 0 } },
    mid_team: { users: 0, items: { create_project: 0, import_data: 0, invite_three: 0, connect_slack: 0 } },
    small_team: { users: 3, items: { create_project: 2, import_data: 1, invite_teammate: 0, connect_slack: 0 } },
  });
  const small = segments.find((s: any) => s.segment === "small_team");
  const median = (id: string) => small.items.find((i: any) => i.item_id === id).median_ms_to_complete;
  expect(median("create_project")).toBeGreaterThanOrEqual(0);
  expect(median("create_project")).toBeLessThan(60_000);
  expect(median("invite_teammate")).toBeNull();
  // Without the secret key: refused.
  expect((await fetch(`${collector.url}/v1/checklists/funnel`)).status).toBe(401);
});
