// The JS SDK as a frontend developer meets it: the command queue, options, identity,
// privacy controls, panels opened from code, host callbacks, focus, dark mode.
import type { Page } from "@playwright/test";
import { expect, anonymousId, openDemo, card, artifacts } from "./collector";
import { FaultProxy, test } from "./faultproxy";


async function fixture(page: Page, fp: FaultProxy, opts: Record<string, string> = {}) {
  await page.goto(`${fp.url}/fixture/queue.html?${new URLSearchParams({ flushIntervalMs: "50", ...opts })}`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

test("calls made before the widget loaded are replayed in order", async ({ page, fp, collector }) => {
  await page.addInitScript(() => {
    document.addEventListener("DOMContentLoaded", () => {
      const T = (window as any).Touchpoint;
      (window as any).__early = T.loaded !== true;
      T.identify("early_user", { plan: "pro" });
      T.track("first", { n: 1 });
      T.page({ title: "Home" });
      T.track("second", { n: 2 });
      T.track("third", { n: 3 });
    });
  });
  await fixture(page, fp);
  expect(await page.evaluate(() => (window as any).__early)).toBe(true);
  const evs = await collector.eventsUntil({ type: "track" }, (e) => e.length === 3);
  const all = (await collector.events()).filter((e) => ["identify", "track", "page"].includes(e.type));
  expect(all.map((e) => (e.type === "track" ? e.name : e.type))).toEqual(["identify", "first", "page", "second", "third"]);
  expect(evs.every((e) => e.user_id === "early_user")).toBe(true);
});

test("an unknown option or a wrong type is a console error naming it", async ({ page, fp }) => {
  const errors: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(`${fp.url}/fixture/queue.html?flushIntervl=50`);
  await expect.poll(() => errors.join("\n")).toContain("flushIntervl");
  const errors2: string[] = [];
  const other = await page.context().newPage();
  other.on("console", (m) => { if (m.type() === "error") errors2.push(m.text()); });
  await other.goto(`${fp.url}/fixture/queue.html?requestTimeoutMs=soon`);
  await expect.poll(() => errors2.join("\n")).toMatch(/requestTimeoutMs.*"soon" is not a whole number|"soon" is not a whole number.*requestTimeoutMs/);
});

test("reset() on logout forgets the user and starts a new anonymous visitor", async ({ page, fp, collector }) => {
  await fixture(page, fp);
  await page.evaluate(() => { (window as any).Touchpoint.identify("leaving_user", { plan: "pro" }); (window as any).Touchpoint.track("before"); });
  const before = await anonymousId(page);
  await page.evaluate(() => { (window as any).Touchpoint.reset(); (window as any).Touchpoint.track("after"); });
  const after = await anonymousId(page);
  expect(after).not.toBe(before);
  const evs = await collector.eventsUntil({ type: "track" }, (e) => e.length === 2);
  expect(evs.map((e) => [e.name, e.user_id ?? null, e.anonymous_id])).toEqual([
    ["before", "leaving_user", before],
    ["after", null, after],
  ]);
  expect(await page.evaluate(() => localStorage.getItem("touchpoint:pk_demo:user_id"))).toBeNull();
});

test("track() finishes its work at the end of the task, yet keeps the order and the identity of its call", async ({ page, fp, collector }) => {
  await fixture(page, fp);
  await page.evaluate(() => (window as any).Touchpoint.identify("leaving_user"));
  const before = await anonymousId(page);
  // One task: tracks around another event and a reset().
  await page.evaluate(() => {
    const T = (window as any).Touchpoint;
    T.track("first", { n: 1 });
    T.page({ n: 2 });
    T.track("second", { n: 3 });
    T.reset();
    T.track("third", { n: 4 });
  });
  const after = await anonymousId(page);
  expect(after).not.toBe(before);
  const evs = await collector.eventsUntil({}, (e) => e.filter((x) => x.type === "track").length === 3);
  expect(evs.filter((e) => e.type === "track" || e.type === "page").map((e) => [e.type, e.name ?? null, e.props, e.user_id ?? null, e.anonymous_id])).toEqual([
    ["track", "first", { n: 1 }, "leaving_user", before],
    ["page", null, { n: 2 }, "leaving_user", before],
    ["track", "second", { n: 3 }, "leaving_user", before],
    ["track", "third", { n: 4 }, null, after],
  ]);
});

test("optOut() stops collection and deletes unsent events, across reloads; optIn() resumes", async ({ page, fp, collector }) => {
  await fixture(page, fp, { flushIntervalMs: "60000" });
  await page.evaluate(() => (window as any).Touchpoint.track("unsent"));
  await page.evaluate(() => (window as any).Touchpoint.optOut());
  expect(await page.evaluate(() => (window as any).Touchpoint.track("while_out"))).toBeUndefined();
  expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes(":q:")).length)).toBe(0);
  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  expect(await page.evaluate(() => (window as any).Touchpoint.track("after_reload"))).toBeUndefined();
  await page.evaluate(() => { (window as any).Touchpoint.optIn(); (window as any).Touchpoint.track("back_in"); });
  await page.evaluate(() => (window as any).Touchpoint.hide());
  await page.close({ runBeforeUnload: true }); // flushes with keepalive
  const evs = await collector.eventsUntil({ type: "track" }, (e) => e.length >= 1);
  await new Promise((r) => setTimeout(r, 500));
  expect((await collector.events({ type: "track" })).map((e) => e.name)).toEqual(["back_in"]);
  expect(evs.length).toBe(1);
});

test("Global Privacy Control is honoured when asked to", async ({ page, fp, collector }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }));
  await fixture(page, fp, { respectPrivacySignals: "true" });
  expect(await page.evaluate(() => (window as any).Touchpoint.track("gpc"))).toBeUndefined();
  const other = await (await page.context().browser()!.newContext()).newPage();
  await other.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }));
  await fixture(other, fp); // not asked to honour it
  expect(await other.evaluate(() => (window as any).Touchpoint.track("no_gpc_option"))).toMatch(/^[0-9a-f-]{36}$/);
  await collector.eventsUntil({ type: "track" }, (e) => e.length === 1);
  expect((await collector.events({ type: "track" })).map((e) => e.name)).toEqual(["no_gpc_option"]);
});

test("panels open from code, host callbacks fire, hide() dismisses", async ({ page, collector }) => {
  await openDemo(page, collector);
  const anon = await anonymousId(page);
  await page.evaluate(() => {
    (window as any).completed = [];
    (window as any).Touchpoint.on("survey:completed", (e: unknown) => (window as any).completed.push(e));
  });
  expect(await page.evaluate(() => (window as any).Touchpoint.openHelp("slack"))).toBe(true);
  await expect(page.getByRole("region", { name: "Help" }).getByRole("button", { name: /Connect Slack/ })).toBeVisible();
  expect(await page.evaluate(() => (window as any).Touchpoint.showChecklist())).toBe(true);
  await expect(page.getByRole("region", { name: "Get started with Acme Projects" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Help" })).toBeHidden();
  await page.evaluate(() => (window as any).Touchpoint.showSurvey("nps"));
  await card(page).getByRole("button", { name: /^8 out of 10/ }).click();
  await card(page).getByRole("button", { name: "Send" }).click();
  await expect.poll(() => page.evaluate(() => (window as any).completed)).toEqual([
    { surveyId: "nps", endingId: "passive_thanks", actions: [] },
  ]);
  await page.evaluate(() => (window as any).Touchpoint.hide());
  await expect(card(page)).toHaveCount(0);
  await expect(page.getByRole("region", { name: "Get started with Acme Projects" })).toBeHidden();
  await page.evaluate(() => (window as any).Touchpoint.showSurvey("nps"));
  await expect(card(page)).toBeVisible();
  await page.evaluate(() => (window as any).Touchpoint.hide());
  await expect(card(page)).toHaveCount(0);
  await collector.eventsUntil({ anonymous_id: anon, type: "survey_dismissed" }, (e) => e.length === 1);
});

test("a panel asked for while its content is still on its way opens when it arrives", async ({ page, collector, consoleErrors }) => {
  // The help content is held back, as a slow collector would: the host's call must not depend on it.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.route("**/v1/help?**", async (route) => {
    await held;
    await route.continue();
  });
  await openDemo(page, collector);
  expect(await page.evaluate(() => (window as any).Touchpoint.openHelp("slack"))).toBe(true);
  await page.waitForTimeout(300);
  await expect(page.getByRole("region", { name: "Help" })).toBeHidden();
  release();
  await expect(page.getByRole("region", { name: "Help" }).getByRole("button", { name: /Connect Slack/ })).toBeVisible();
  // Asked for again after hide(): a later ask replaces an earlier one, and hide() cancels it.
  await page.evaluate(() => (window as any).Touchpoint.hide());
  await expect(page.getByRole("region", { name: "Help" })).toBeHidden();
  expect(consoleErrors).toEqual([]);
});

test("focus moves into a panel when it opens and back to its launcher when it closes", async ({ page, collector }) => {
  await openDemo(page, collector);
  const help = page.getByRole("button", { name: "Help", exact: true });
  await help.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("searchbox", { name: "Search help" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("region", { name: "Help" })).toBeHidden();
  await expect(help).toBeFocused();
  const launcher = page.getByRole("button", { name: /Get started/ });
  await launcher.click();
  // The first item, not the panel's window buttons.
  await expect(page.getByRole("region", { name: "Get started with Acme Projects" }).getByRole("button", { name: /^Create your first project/ })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(launcher).toBeFocused();
});

test("dark mode follows prefers-color-scheme", async ({ page, collector }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.setViewportSize({ width: 1280, height: 800 });
  await openDemo(page, collector);
  await page.evaluate(() => (window as any).Touchpoint.showSurvey("nps"));
  await expect(card(page)).toBeVisible();
  const bg = () => card(page).evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(await bg()).toBe("rgb(27, 31, 42)");
  await page.screenshot({ path: `${artifacts}/dark-mode.png` });
  await page.emulateMedia({ colorScheme: "light" });
  expect(await bg()).toBe("rgb(255, 255, 255)");
});
