// End users on phones: the card, the launchers and the panels share a small screen. Playwright's
// device emulation (viewport, touch, mobile meta-viewport handling) in Debian's chromium, against
// the real collector: an iPhone 13, a Pixel 7 and a 320-px small phone, each in portrait and landscape.
import { test, expect, root, Collector, artifacts } from "./collector-extra";
import { openDemo, anonymousId, card } from "./collector";
import { devices, type Locator, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { cpSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

declare const Touchpoint: any;

const here = dirname(fileURLToPath(import.meta.url));

/** A device's emulation, in chromium whatever browser the device ships with. */
function phone(name: string) {
  const { defaultBrowserType: _, ...options } = devices[name];
  return options;
}

const PHONES: [string, string][] = [
  ["iPhone 13", "iPhone 13"],
  ["iPhone 13 landscape", "iPhone 13 landscape"],
  ["Pixel 7", "Pixel 7"],
  ["Pixel 7 landscape", "Pixel 7 landscape"],
  ["small phone (320 px)", "iPhone SE"],
  ["small phone (320 px) landscape", "iPhone SE landscape"],
];

type Box = { x: number; y: number; width: number; height: number };

/** The visual viewport (what is on screen), in the coordinates `getBoundingClientRect` uses. */
function screen(page: Page): Promise<Box> {
  return page.evaluate(() => {
    const v = window.visualViewport!;
    return { x: v.offsetLeft, y: v.offsetTop, width: v.width, height: v.height };
  });
}

function rect(l: Locator): Promise<Box> {
  return l.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  });
}

const within = (b: Box, s: Box) =>
  b.x >= s.x - 0.5 && b.y >= s.y - 0.5 && b.x + b.width <= s.x + s.width + 0.5 && b.y + b.height <= s.y + s.height + 0.5;

/** `l` lies inside the visual viewport and is what a finger at its centre touches (not clipped, not covered). */
async function onScreen(page: Page, l: Locator) {
  await expect.poll(async () => within(await rect(l), await screen(page)), { message: "inside the visual viewport" }).toBe(true);
  expect(await l.evaluate((el) => {
    const r = el.getBoundingClientRect();
    let hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    while (hit?.shadowRoot) {
      const inner = hit.shadowRoot.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      if (!inner || inner === hit) break;
      hit = inner;
    }
    return hit !== null && el.contains(hit);
  }), "what a tap at its centre reaches").toBe(true);
}

/** Waits for the widget's entrance animations to end: a box measured mid-animation carries the
 *  transform's float error (a 44-px button measured 43.99998 px while the card slid in). */
function settled(page: Page): Promise<void> {
  return page.evaluate(async () => {
    const roots = [...document.querySelectorAll("touchpoint-widget")].map((h) => h.shadowRoot!).filter(Boolean);
    await Promise.all(roots.flatMap((r) => r.getAnimations()).map((a) => a.finished.catch(() => {})));
  });
}

/** Pairs of widget elements (card, panels, launchers) whose boxes overlap, by name. */
async function overlaps(page: Page): Promise<string[]> {
  await settled(page);
  return page.evaluate(() => {
    const shown: { name: string; r: DOMRect }[] = [];
    for (const host of document.querySelectorAll("touchpoint-widget")) {
      for (const el of host.shadowRoot?.querySelectorAll(".tp-card, .tp-panel, .tp-launcher") ?? []) {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) shown.push({ name: `${el.className} "${el.textContent!.slice(0, 24)}"`, r });
      }
    }
    const out: string[] = [];
    for (let i = 0; i < shown.length; i++) {
      for (let j = i + 1; j < shown.length; j++) {
        const [a, b] = [shown[i].r, shown[j].r];
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) out.push(`${shown[i].name} × ${shown[j].name}`);
      }
    }
    return out;
  });
}

/** Every control of the card and the dock: at least 24×24 CSS px (WCAG 2.5.8), and 44 px tall
 *  (2.5.5) — except links inside a sentence, which the criteria exempt. */
async function fingerSized(page: Page) {
  await settled(page);
  const small = await page.evaluate(() => {
    const out: string[] = [];
    for (const host of document.querySelectorAll("touchpoint-widget")) {
      for (const el of host.shadowRoot?.querySelectorAll("button, textarea, input, .tp-check") ?? []) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || getComputedStyle(el).display === "inline") continue;
        if (r.width < 24 || r.height < 44) out.push(`${el.className} "${el.textContent!.slice(0, 16)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    }
    return out;
  });
  expect(small).toEqual([]);
}

/** The page does not scroll sideways: the layout viewport is the screen's width. */
async function noSidewaysScroll(page: Page) {
  const [scrollWidth, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.visualViewport!.width]);
  expect(scrollWidth).toBeLessThanOrEqual(Math.ceil(width));
}

async function axe(page: Page) {
  const results = await new AxeBuilder({ page }).include("touchpoint-widget").analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}

const slug = (s: string) => s.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "").toLowerCase();

for (const [label, device] of PHONES) {
  test.describe(label, () => {
    test.use(phone(device));

    test("the whole NPS flow is answered by tap on the demo app: score, follow-up choice, a text answer, the ending", async ({ page, collector, consoleErrors }) => {
      await openDemo(page, collector);
      const anon = await anonymousId(page);
      await noSidewaysScroll(page);
      await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" })).toBeInViewport();

      await page.getByRole("button", { name: "Give feedback" }).tap();
      await expect(card(page)).toContainText("How likely are you to recommend Acme Projects");
      await onScreen(page, card(page));
      const three = card(page).getByRole("button", { name: /^3 out of 10/ });
      // No double-tap zoom on the scale: a second quick tap is an answer, not a zoom.
      expect(await three.evaluate((el) => getComputedStyle(el).touchAction)).toBe("manipulation");
      await fingerSized(page);
      await axe(page);
      await page.screenshot({ path: `${artifacts}/phones-${slug(label)}-1-score.png` });

      await card(page).getByRole("button", { name: /^0 out of 10/ }).tap();
      await expect(card(page).getByText("What got in the way?")).toBeVisible();
      await fingerSized(page);
      await card(page).getByRole("button", { name: "Something else" }).tap();

      const field = card(page).getByLabel("Tell us what got in the way.");
      await field.tap();
      await page.keyboard.type("Exports time out on my phone");
      await onScreen(page, field);
      const send = card(page).getByRole("button", { name: "Send" });
      await onScreen(page, send);
      await page.screenshot({ path: `${artifacts}/phones-${slug(label)}-2-text.png` });
      await send.tap();

      await expect(card(page).getByRole("heading", { name: "Thank you for being honest" })).toBeVisible();
      await onScreen(page, card(page));
      await card(page).getByRole("button", { name: "Close", exact: true }).tap();
      await expect(card(page)).toHaveCount(0);

      const evs = await collector.eventsUntil({ anonymous_id: anon }, (e) => e.some((x) => x.type === "survey_completed"));
      const survey = evs.filter((e) => e.type.startsWith("survey_"));
      expect(survey.map((e) => e.type)).toEqual(["survey_shown", "survey_answered", "survey_answered", "survey_answered", "survey_completed"]);
      expect(survey.filter((e) => e.type === "survey_answered").map((e) => [e.question_id, e.value])).toEqual([
        ["score", 0],
        ["obstacle", "other"],
        ["obstacle_other", "Exports time out on my phone"],
      ]);

      // The app's other page fits the phone too.
      await page.getByRole("link", { name: "Settings" }).tap();
      await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
      await noSidewaysScroll(page);
      expect(consoleErrors).toEqual([]);
    });

    test("no widget element's box overlaps another's while the card or a panel is open", async ({ page, collector }) => {
      await openDemo(page, collector);
      const getStarted = page.getByRole("button", { name: /Get started/ });
      const help = page.getByRole("button", { name: "Help", exact: true });
      await expect(getStarted).toBeVisible();
      await expect(help).toBeVisible();
      expect(await overlaps(page)).toEqual([]);

      // A panel: above its launchers, inside the screen.
      await getStarted.tap();
      const panel = page.getByRole("region", { name: "Get started with Acme Projects" });
      await expect(panel).toBeVisible();
      expect(await overlaps(page)).toEqual([]);
      await expect.poll(async () => within(await rect(panel), await screen(page))).toBe(true);

      // A survey while the panel is open (the page asked for it): still one thing at a time.
      expect(await page.evaluate(() => Touchpoint.showSurvey("nps"))).toBe(true);
      await expect(card(page)).toBeVisible();
      await expect.poll(() => overlaps(page)).toEqual([]);
      await onScreen(page, card(page));
      await page.screenshot({ path: `${artifacts}/phones-${slug(label)}-3-panel-and-card.png` });
      await card(page).getByRole("button", { name: /^8 out of 10/ }).tap();
      await expect(card(page).getByText("What would make it a 10?")).toBeVisible();
      await expect.poll(() => overlaps(page)).toEqual([]);

      // The survey gone, the dock is back as it was.
      await card(page).getByRole("button", { name: "Close survey" }).tap();
      await expect(card(page)).toHaveCount(0);
      await expect(panel).toBeVisible();
      await expect(getStarted).toBeVisible();
      expect(await overlaps(page)).toEqual([]);
      await help.tap();
      const helpPanel = page.getByRole("region", { name: "Help" });
      await expect(helpPanel.getByRole("searchbox", { name: "Search help" })).toBeVisible();
      expect(await overlaps(page)).toEqual([]);
      await expect.poll(async () => within(await rect(helpPanel), await screen(page))).toBe(true);
      await page.screenshot({ path: `${artifacts}/phones-${slug(label)}-5-help.png` });
      await fingerSized(page);
    });
  });
}

// The virtual keyboard takes about 40% of the screen while the text question has focus. Each phone
// is turned mid-answer too (a rotation is a resize), and the whole card must stay on screen: a
// card taller than what is left must scroll inside, not lose its top.
for (const [label, device] of PHONES.filter(([l]) => !l.endsWith("landscape"))) {
  test.describe(label, () => {
    test.use(phone(device));

    test("with a text question focused and the viewport 60% as tall, the text field and Send stay in view, portrait and landscape", async ({ page, collector }) => {
      await openDemo(page, collector);
      const anon = await anonymousId(page);
      await page.getByRole("button", { name: "Give feedback" }).tap();
      await card(page).getByRole("button", { name: /^6 out of 10/ }).tap();
      await card(page).getByRole("button", { name: "Something else" }).tap();
      const field = card(page).getByLabel("Tell us what got in the way.");
      const send = card(page).getByRole("button", { name: "Send" });
      await field.tap();
      await expect(field).toBeFocused();

      const portrait = page.viewportSize()!;
      const landscape = phone(`${device} landscape`).viewport;
      for (const [turn, { width, height }] of [["portrait", portrait], ["landscape", landscape]] as const) {
        await page.setViewportSize({ width, height: Math.round(height * 0.6) });
        await expect.poll(async () => (await screen(page)).height, turn).toBeLessThanOrEqual(Math.round(height * 0.6));
        await expect(field).toBeFocused();
        await onScreen(page, card(page));
        await onScreen(page, field);
        await onScreen(page, send);
        await page.screenshot({ path: `${artifacts}/phones-${slug(label)}-keyboard-${turn}.png` });
      }

      await page.keyboard.type("Too slow");
      await send.tap();
      await expect(card(page).getByRole("heading", { name: "Thank you for being honest" })).toBeVisible();
      const evs = await collector.eventsUntil({ anonymous_id: anon, type: "survey_answered" }, (e) => e.length === 3);
      expect(evs.at(-1)).toMatchObject({ question_id: "obstacle_other", value: "Too slow" });
    });

    test("the card follows the visual viewport when the user zooms in", async ({ page, collector }) => {
      await openDemo(page, collector);
      await page.getByRole("button", { name: "Give feedback" }).tap();
      await expect(card(page)).toBeVisible();
      const cdp = await page.context().newCDPSession(page);
      await cdp.send("Emulation.setPageScaleFactor", { pageScaleFactor: 1.5 });
      await expect.poll(async () => (await screen(page)).width).toBeLessThan(page.viewportSize()!.width);
      await onScreen(page, card(page));
      await page.screenshot({ path: `${artifacts}/phones-${slug(label)}-zoomed.png` });
    });
  });
}

test.describe("iPhone 13 landscape, with a notch and a home indicator", () => {
  test.use(phone("iPhone 13 landscape"));

  test("the card and the launchers keep clear of the safe-area insets", async ({ page, collector }) => {
    const insets = { top: 0, right: 47, bottom: 21, left: 47 };
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Emulation.setSafeAreaInsetsOverride", { insets });
    await openDemo(page, collector);
    const { width, height } = page.viewportSize()!;
    const safe = { x: insets.left, y: insets.top, width: width - insets.left - insets.right, height: height - insets.top - insets.bottom };
    const getStarted = page.getByRole("button", { name: /Get started/ });
    await expect(getStarted).toBeVisible();
    expect(within(await rect(getStarted), safe)).toBe(true);
    expect(await page.evaluate(() => Touchpoint.showSurvey("nps"))).toBe(true);
    await expect(card(page)).toBeVisible();
    await expect.poll(async () => within(await rect(card(page)), safe)).toBe(true);
    await page.screenshot({ path: `${artifacts}/phones-safe-area.png` });
  });
});

/** The repo's demo site plus the fixture pages (the sideways-overflowing host page). */
function withFixtures(dir: string) {
  const www = join(dir, "www");
  cpSync(join(root, "www"), www, { recursive: true });
  cpSync(join(here, "fixtures/www"), www, { recursive: true });
  return ["--www-dir", www];
}

for (const [label, device] of PHONES.filter(([l]) => !l.endsWith("landscape"))) {
  test.describe(`${label}, a host page wider than the screen`, () => {
    test.use(phone(device));

    test("the card lies inside the visual viewport, follows it when it pans, and a tap on 3 answers 3", async ({ page, startCollector }) => {
      const c: Collector = await startCollector(withFixtures);
      await page.goto(`${c.url}/wide.html`);
      await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
      // The page really overflows: the layout viewport, which fixed elements are placed in, is wider than the screen.
      const [layout, visible] = await page.evaluate(() => [window.innerWidth, window.visualViewport!.width]);
      expect(layout).toBeGreaterThan(visible);

      expect(await page.evaluate(() => Touchpoint.showSurvey("nps"))).toBe(true);
      await expect(card(page)).toBeVisible();
      await onScreen(page, card(page));
      await page.screenshot({ path: `${artifacts}/phones-wide-${slug(label)}.png` });

      const three = card(page).getByRole("button", { name: /^3 out of 10/ });
      await onScreen(page, three);
      await three.tap();
      await expect(card(page).getByText("What got in the way?")).toBeVisible();
      const evs = await c.eventsUntil({ type: "survey_answered" }, (e) => e.length === 1);
      expect(evs[0]).toMatchObject({ survey_id: "nps", question_id: "score", value: 3 });

      // The screen pans over the wide page (right and down): the card comes along, and a finger
      // where the screen shows a choice answers it. (Touch coordinates are the screen's, hence the
      // viewport's offset; Playwright's own tap checks its target in page coordinates.)
      await page.mouse.move(100, 100);
      await page.mouse.wheel(150, 120);
      await expect.poll(async () => { const s = await screen(page); return s.x > 0 && s.y > 0; }).toBe(true);
      await onScreen(page, card(page));
      await page.screenshot({ path: `${artifacts}/phones-wide-${slug(label)}-panned.png` });
      const choice = card(page).getByRole("button", { name: "Not ready to upgrade" });
      await onScreen(page, choice);
      const [b, s] = [await rect(choice), await screen(page)];
      await page.touchscreen.tap(b.x + b.width / 2 - s.x, b.y + b.height / 2 - s.y);
      await expect(card(page).getByRole("heading", { name: "Two more weeks, on us" })).toBeVisible();
      await c.eventsUntil({ type: "survey_answered" }, (e) => e.some((x) => x.question_id === "obstacle" && x.value === "not_ready"));
    });
  });
}
