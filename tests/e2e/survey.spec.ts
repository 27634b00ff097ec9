// The NPS survey end to end: demo page → widget (wasm) → collector (SQLite), in real Chromium.
import { test, expect, openDemo, anonymousId, card, artifacts, Collector } from "./collector";
import type { Page } from "@playwright/test";

async function openSurvey(page: Page) {
  await page.getByRole("button", { name: "Give feedback" }).click();
  await expect(card(page)).toBeVisible();
}

async function answerScore(page: Page, n: number) {
  await card(page).getByRole("button", { name: new RegExp(`^${n} out of 10`) }).click();
}

test("detractor → 'Not ready to upgrade' → trial offer; the collector holds exactly those events", async ({ page, collector, consoleErrors }) => {
  await openDemo(page, collector);
  const anon = await anonymousId(page);
  await openSurvey(page);
  await expect(card(page)).toContainText("How likely are you to recommend Acme Projects");
  await page.screenshot({ path: `${artifacts}/survey-1-score.png` });

  await answerScore(page, 3);
  await expect(card(page).getByText("What got in the way?")).toBeVisible();
  await expect(card(page).getByRole("button", { name: "Missing feature" })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/survey-2-detractor-follow-up.png` });

  await card(page).getByRole("button", { name: "Not ready to upgrade" }).click();
  await expect(card(page).getByRole("heading", { name: "Two more weeks, on us" })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/survey-3-trial-offer.png` });

  const all = await collector.eventsUntil({ anonymous_id: anon }, (e) => e.some((x) => x.type === "survey_completed"));
  // Besides the survey's, the page sends only the demo app's identify and group and the checklist's showing.
  expect(all.filter((e) => !e.type.startsWith("survey_")).map((e) => e.type).sort()).toEqual(["checklist_shown", "group", "identify"]);
  // Exactly one showing of the survey.
  const evs = all.filter((e) => e.type === "identify" || e.type.startsWith("survey_"));
  expect(evs.map((e) => e.type)).toEqual(["identify", "survey_shown", "survey_answered", "survey_answered", "survey_completed"]);
  const [, shown, score, obstacle, completed] = evs;
  const responseId = shown.response_id;
  expect(responseId).toMatch(/^[0-9a-f-]{36}$/);
  for (const e of evs.slice(1)) {
    expect(e).toMatchObject({ survey_id: "nps", response_id: responseId, anonymous_id: anon, user_id: "user_42" });
    expect(e.url).toBe(`${collector.url}/?autoshow=0`);
  }
  expect(score).toMatchObject({ question_id: "score", value: 3 });
  expect(obstacle).toMatchObject({ question_id: "obstacle", value: "not_ready" });
  expect(completed).toMatchObject({
    ending_id: "trial_offer",
    actions: [{ action: "offer", code: "trial_extension_14d" }, { action: "webhook" }],
  });
  expect(new Set(evs.map((e) => e.id)).size).toBe(evs.length);
  // Nothing else arrives later (no duplicates, no stray sends).
  await page.waitForTimeout(500);
  expect((await collector.events({ anonymous_id: anon })).length).toBe(all.length);
  expect(consoleErrors).toEqual([]);
});

test("each answer is posted as it is given, so a half-finished survey counts", async ({ page, collector }) => {
  await openDemo(page, collector);
  const anon = await anonymousId(page);
  await openSurvey(page);
  await answerScore(page, 8);
  await expect(card(page).getByText("What would make it a 10?")).toBeVisible();
  // Still open: the score is already stored.
  const evs = await collector.eventsUntil({ anonymous_id: anon, type: "survey_answered" }, (e) => e.length === 1);
  expect(evs[0]).toMatchObject({ question_id: "score", value: 8 });
  await card(page).getByRole("button", { name: "Close survey" }).click();
  await expect(card(page)).toHaveCount(0);
  const dismissed = await collector.eventsUntil({ anonymous_id: anon, type: "survey_dismissed" }, (e) => e.length === 1);
  expect(dismissed[0]).toMatchObject({ survey_id: "nps", question_id: "make_it_10", response_id: evs[0].response_id });
  expect(await collector.events({ anonymous_id: anon, type: "survey_completed" })).toEqual([]);
});

test("going back takes the other branch, and the follow-up of each band appears", async ({ page, collector }) => {
  await openDemo(page, collector);
  await openSurvey(page);
  await answerScore(page, 2);
  await expect(card(page).getByText("What got in the way?")).toBeVisible();
  await card(page).getByRole("button", { name: "Something else" }).click();
  await expect(card(page).getByLabel("Tell us what got in the way.")).toBeVisible();
  await card(page).getByRole("button", { name: "← Back" }).click();
  // The earlier choice is shown as selected.
  await expect(card(page).getByRole("button", { name: "Something else" })).toHaveAttribute("aria-pressed", "true");
  await card(page).getByRole("button", { name: "← Back" }).click();
  await expect(card(page).getByRole("button", { name: "2 out of 10" })).toHaveAttribute("aria-pressed", "true");
  await answerScore(page, 10);
  await expect(card(page).getByText("Would you help others find us?")).toBeVisible();
  await card(page).getByRole("button", { name: "Sure, I'll write a review" }).click();
  await expect(card(page).getByRole("heading", { name: "You're wonderful" })).toBeVisible();
});

test("the free-text follow-up requires words and posts what was typed", async ({ page, collector }) => {
  await openDemo(page, collector);
  const anon = await anonymousId(page);
  await openSurvey(page);
  await answerScore(page, 0);
  await card(page).getByRole("button", { name: "Something else" }).click();
  const box = card(page).getByLabel("Tell us what got in the way.");
  await card(page).getByRole("button", { name: "Send" }).click();
  await expect(card(page).getByRole("alert")).toHaveText("Please write a few words, or go back.");
  await box.fill("Exports time out on big projects");
  await card(page).getByRole("button", { name: "Send" }).click();
  await expect(card(page).getByRole("heading", { name: "Thank you for being honest" })).toBeVisible();
  const evs = await collector.eventsUntil({ anonymous_id: anon, type: "survey_answered" }, (e) => e.length === 3);
  expect(evs.map((e) => [e.question_id, e.value])).toEqual([
    ["score", 0],
    ["obstacle", "other"],
    ["obstacle_other", "Exports time out on big projects"],
  ]);
});

test("fully keyboard-operable: Tab, Enter, focus follows each step, Escape dismisses", async ({ page, collector }) => {
  await openDemo(page, collector);
  const anon = await anonymousId(page);
  const feedback = page.getByRole("button", { name: "Give feedback" });
  await feedback.focus();
  await page.keyboard.press("Enter");
  await expect(card(page)).toBeVisible();
  // Showing the card must not steal focus from the page.
  await expect(feedback).toBeFocused();

  await card(page).getByRole("button", { name: "Close survey" }).focus();
  for (let i = 0; i < 4; i++) await page.keyboard.press("Tab"); // 0, 1, 2, 3
  const three = card(page).getByRole("button", { name: "3 out of 10" });
  await expect(three).toBeFocused();
  // Focus is visible (an outline drawn by :focus-visible).
  const outline = await three.evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).toBe("solid");
  await page.keyboard.press("Enter");

  const first = card(page).getByRole("button", { name: "Not ready to upgrade" });
  await expect(first).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(card(page).getByRole("button", { name: "Missing feature" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(card(page)).toHaveCount(0);
  const evs = await collector.eventsUntil({ anonymous_id: anon }, (e) => e.some((x) => x.type === "survey_dismissed"));
  expect(evs.filter((e) => e.type.startsWith("survey_")).map((e) => e.type)).toEqual(["survey_shown", "survey_answered", "survey_dismissed"]);
  // The dismissal names the step it left; other widgets' events (the checklist's) may arrive after it.
  expect(evs.filter((e) => e.type === "survey_dismissed").at(-1)).toMatchObject({ question_id: "obstacle" });
});

test("score buttons are labelled for screen readers and the card passes an axe scan", async ({ page, collector }) => {
  const { default: AxeBuilder } = await import("@axe-core/playwright");
  await openDemo(page, collector);
  await openSurvey(page);
  await expect(card(page).getByRole("group", { name: /How likely are you to recommend/ })).toBeVisible();
  await expect(card(page).getByRole("button", { name: "0 out of 10, Not at all likely" })).toBeVisible();
  await expect(card(page).getByRole("button", { name: "10 out of 10, Extremely likely" })).toBeVisible();
  await expect(card(page).getByRole("button", { name: /out of 10/ })).toHaveCount(11);
  const results = await new AxeBuilder({ page }).include("touchpoint-widget").analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await answerScore(page, 5);
  const again = await new AxeBuilder({ page }).include("touchpoint-widget").analyze();
  expect(again.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
});

test("the card sits in the bottom-right corner and leaves the app usable", async ({ page, collector }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await openDemo(page, collector);
  await openSurvey(page);
  const box = (await card(page).boundingBox())!;
  expect(box.width).toBeLessThanOrEqual(400);
  expect(box.x + box.width).toBeGreaterThan(1280 - 40);
  expect(box.y + box.height).toBeGreaterThan(800 - 40);
  // The app's own buttons still work while the card is up.
  await page.getByRole("button", { name: "New project" }).click();
  await expect(page.getByRole("status")).toHaveText("Tracked “created_project”.");
});

test("text from the survey definition is shown as text, never parsed as HTML", async ({ page, collector }) => {
  await openDemo(page, collector);
  expect(await page.evaluate(() => (window as any).Touchpoint.showSurvey("hostile"))).toBe(true);
  await expect(card(page)).toContainText('<img src=x onerror="window.__pwned=1"><b>Bold?</b>');
  await expect(card(page).getByRole("button", { name: "<script>window.__pwned=2</script>Option A" })).toBeVisible();
  const injected = await page.evaluate(() => {
    const root = document.querySelector('touchpoint-widget[data-touchpoint="survey"]')!.shadowRoot!;
    return root.querySelectorAll("img, b, script, a, i, .tp-root style ~ style").length;
  });
  expect(injected).toBe(0);
  await card(page).getByRole("button", { name: /Option B/ }).click();
  await expect(card(page)).toContainText("<style>*{display:none}</style>Done");
  await card(page).getByText(/<i onmouseover/).hover();
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
});

test("an unknown survey id resolves false with a console error naming it", async ({ page, collector, consoleErrors }) => {
  await openDemo(page, collector);
  expect(await page.evaluate(() => (window as any).Touchpoint.showSurvey("no-such-survey"))).toBe(false);
  await expect(card(page)).toHaveCount(0);
  expect(consoleErrors.some((e) => e.includes('showSurvey("no-such-survey")') && e.includes("404"))).toBe(true);
});

test("only one survey on screen at a time", async ({ page, collector }) => {
  await openDemo(page, collector);
  const results = await page.evaluate(() => Promise.all([(window as any).Touchpoint.showSurvey("nps"), (window as any).Touchpoint.showSurvey("nps")]));
  expect(results.sort()).toEqual([false, true]);
  await expect(card(page)).toHaveCount(1);
});

/** One response per fresh browser context, as separate visitors would. */
async function respond(browser: import("@playwright/test").Browser, c: Collector, steps: (page: Page) => Promise<void>) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await openDemo(page, c);
  const anon = await anonymousId(page);
  await openSurvey(page);
  await steps(page);
  await c.eventsUntil({ anonymous_id: anon, type: "survey_answered" }, (e) => e.length > 0);
  await ctx.close();
}

test("after several scripted responses the NPS endpoint returns the right score", async ({ browser, collector }) => {
  test.setTimeout(60_000);
  const finish = (label: string) => async (page: Page) => {
    await card(page).getByRole("button", { name: label }).click();
    await expect(card(page).getByRole("heading")).toBeVisible();
  };
  await respond(browser, collector, async (p) => { await answerScore(p, 10); await finish("I'll invite a colleague")(p); });
  // Half-finished: scored, then closed. Still counts.
  await respond(browser, collector, async (p) => {
    await answerScore(p, 10);
    await expect(card(p).getByText("Would you help others find us?")).toBeVisible();
    await card(p).getByRole("button", { name: "Close survey" }).click();
  });
  await respond(browser, collector, async (p) => { await answerScore(p, 9); await finish("Not right now")(p); });
  await respond(browser, collector, async (p) => {
    await answerScore(p, 7);
    await card(p).getByRole("button", { name: "Send" }).click();
    await expect(card(p).getByRole("heading", { name: "Thank you!" })).toBeVisible();
  });
  // Changed their mind: 9, back, 2. Only the latest answer of a response counts.
  await respond(browser, collector, async (p) => {
    await answerScore(p, 9);
    await card(p).getByRole("button", { name: "← Back" }).click();
    await answerScore(p, 2);
    await finish("Too hard to use")(p);
  });
  await expect
    .poll(async () => (await collector.events({ survey_id: "nps", type: "survey_answered" })).filter((e) => e.question_id === "score").length)
    .toBe(6);
  // 10, 10, 9 promoters; 7 passive; 2 detractor → (3 − 1) / 5 = 40.
  expect(await collector.nps("nps")).toEqual({ survey_id: "nps", responses: 5, promoters: 3, passives: 1, detractors: 1, nps: 40 });
});
