// The dashboard's survey editor in Chromium against the real collector: a CSAT
// survey from its template, previewed in the real widget, published and shown on
// the demo page without a restart, answered (the stored answers name the
// version) and reported by the dashboard; a rule jumping to a deleted question
// (inline error, publishing refused, the API's 422); a rollback that the next
// page load gets; an axe scan and keyboard use of the editor.
import { test, expect, openDemo, card, Collector } from "./collector";
import type { Page } from "@playwright/test";

const SECRET = "sk_demo";

async function signIn(page: Page, c: Collector) {
  await page.goto(`${c.url}/dashboard`);
  await page.getByLabel("Secret key").fill(SECRET);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await expect(page.getByRole("heading", { name: "Content editor" })).toBeVisible();
}

async function fromTemplate(page: Page, template: string, id: string) {
  await page.getByLabel("Template").selectOption({ label: template });
  await page.getByLabel("New id").fill(id);
  await page.getByRole("button", { name: "Create from template" }).click();
  await expect(page.locator("#ed-status")).toHaveText(/Draft saved/);
}

const editor = (page: Page) => page.locator("#editor");
const preview = (page: Page) => page.frameLocator("#ed-frame").getByRole("dialog");
const status = (page: Page) => page.locator("#ed-status");

async function api(c: Collector, method: string, path: string, body?: unknown) {
  const res = await fetch(`${c.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** The demo page's next load, showing survey `id`. */
async function showOnDemo(page: Page, c: Collector, id: string) {
  await openDemo(page, c);
  await page.evaluate((s) => (window as any).Touchpoint.showSurvey(s), id);
  return card(page);
}

test("a CSAT from its template is previewed, published, shown without a restart, answered with its version and reported", async ({ page, collector, context }) => {
  await signIn(page, collector);
  await fromTemplate(page, "CSAT (1–5, after an interaction)", "csat");

  // The preview is the real widget showing the draft; an edit reaches it once saved.
  await expect(preview(page).getByRole("group", { name: /How satisfied are you with this\?/ })).toBeVisible();
  await editor(page).getByLabel("Text (en)").first().fill("How satisfied are you with our support?");
  await expect(status(page)).toHaveText(/Draft saved/);
  await expect(preview(page).getByRole("group", { name: /How satisfied are you with our support\?/ })).toBeVisible();
  // Stepping through the preview follows the draft's branching and stores nothing.
  // By keyboard: the card sits at the frame's corner, partly outside the dashboard's viewport.
  await preview(page).getByRole("button", { name: /^2 out of 5/ }).press("Enter");
  await expect(preview(page).getByLabel("What could we have done better?")).toBeVisible();
  await expect(page.frameLocator("#ed-frame").getByRole("list", { name: "What happened in this preview" }))
    .toContainText('Answered "satisfaction": 2');
  expect(await collector.events({ survey_id: "csat" })).toEqual([]);

  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await expect(status(page)).toHaveText("Published version 1. Widgets get it on their next page load.");

  // The demo page, on the same collector process: no restart.
  const demo = await context.newPage();
  const shown = await showOnDemo(demo, collector, "csat");
  await expect(shown.getByRole("group", { name: /How satisfied are you with our support\?/ })).toBeVisible();
  await shown.getByRole("button", { name: /^2 out of 5/ }).click();
  await shown.getByLabel("What could we have done better?").fill("Answer faster");
  await shown.getByRole("button", { name: "Send" }).click();
  await expect(shown.getByRole("heading", { name: "Thank you!" })).toBeVisible();

  const events = await collector.eventsUntil({ survey_id: "csat" }, (evs) => evs.some((e) => e.type === "survey_completed"));
  expect(events.map((e) => e.type).sort()).toEqual(["survey_answered", "survey_answered", "survey_completed", "survey_shown"]);
  expect(events.every((e) => e.survey_version === 1)).toBe(true);

  // The dashboard reports the published survey's answers.
  await page.reload();
  await page.locator("#survey").selectOption("csat");
  await expect(page.locator("#showings")).toHaveText("1");
  await expect(page.locator("#completion-rate")).toHaveText("100%");
});

test("a rule that jumps to a deleted question is an inline error; publishing is refused and the API answers 422", async ({ page, collector }) => {
  await signIn(page, collector);
  await fromTemplate(page, "CSAT (1–5, after an interaction)", "csat");
  await editor(page).getByRole("button", { name: "Remove question 2 (improve)" }).click();

  const jump = editor(page).locator('[data-path="questions[0].rules[0].next"]');
  await expect(jump).toHaveAttribute("aria-invalid", "true");
  const describedBy = await jump.getAttribute("aria-describedby");
  await expect(page.locator(`#${describedBy}`)).toContainText('"improve"');
  await expect(page.getByRole("alert")).toContainText("questions[0].rules[0].next");
  await expect(page.getByRole("button", { name: "Publish", exact: true })).toBeDisabled();
  await expect(status(page)).toHaveText(/Draft not saved: 1 problem/);

  // Nothing was published, and the API says the same, by path.
  expect((await api(collector, "GET", "/v1/content/surveys/csat/versions")).status).toBe(404);
  const item = await api(collector, "GET", "/v1/content/surveys/csat");
  const broken = item.body.draft.body;
  broken.questions.splice(1, 1);
  const refused = await api(collector, "PUT", "/v1/content/surveys/csat/draft", broken);
  expect(refused.status).toBe(422);
  expect(refused.body.problems.map((p: any) => p.path)).toContain("questions[0].rules[0].next");

  // Pointing the rule at the ending fixes it.
  await jump.selectOption("thanks");
  await expect(status(page)).toHaveText(/Draft saved/);
  await expect(jump).not.toHaveAttribute("aria-invalid", "true");
  await expect(page.getByRole("button", { name: "Publish", exact: true })).toBeEnabled();
});

test("a rollback to version 1 is what the next page load gets", async ({ page, collector, context }) => {
  await signIn(page, collector);
  await fromTemplate(page, "CSAT (1–5, after an interaction)", "csat");
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await expect(status(page)).toHaveText(/Published version 1/);
  await editor(page).getByLabel("Text (en)").first().fill("Version two asks this");
  await expect(status(page)).toHaveText(/Draft saved/);
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await expect(status(page)).toHaveText(/Published version 2/);

  const demo = await context.newPage();
  await expect((await showOnDemo(demo, collector, "csat")).getByRole("group", { name: /Version two asks this/ })).toBeVisible();

  await editor(page).getByRole("button", { name: "Roll back to version 1" }).click();
  await expect(status(page)).toHaveText(/Draft saved|Rolled back/);
  await expect(page.locator("#ed-versions")).toContainText("rollback to version 1");

  const next = await context.newPage();
  const shown = await showOnDemo(next, collector, "csat");
  await expect(shown.getByRole("group", { name: /How satisfied are you with this\?/ })).toBeVisible();
  const events = await collector.eventsUntil({ survey_id: "csat", type: "survey_shown" }, (evs) => evs.length === 2);
  expect(events.map((e) => e.survey_version)).toEqual([2, 3]);
});

test("the editor passes an axe scan and works by keyboard", async ({ page, collector }) => {
  const { default: AxeBuilder } = await import("@axe-core/playwright");
  await signIn(page, collector);

  // Choose a template, name it and create it with the keyboard only.
  await page.getByLabel("Template").focus();
  await page.keyboard.press("ArrowDown"); // NPS → CSAT
  await page.keyboard.press("ArrowDown"); // → CES
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("New id")).toBeFocused();
  await page.keyboard.type("effort");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Create from template" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(status(page)).toHaveText(/Draft saved/);
  await expect(page.locator("#ed-title")).toHaveText(/Editing “effort”/);

  // Reorder by keyboard: the follow-up first leaves the score unreachable (a showing starts at
  // the first question), which the collector names; moving it back is saved.
  await editor(page).getByRole("button", { name: "Move down question 1" }).focus();
  await page.keyboard.press("Enter");
  await expect(editor(page).locator('[data-path="questions[0].id"]')).toHaveValue("hardest");
  await expect(status(page)).toHaveText(/Draft not saved/);
  await editor(page).getByRole("button", { name: "Move up question 2" }).focus();
  await page.keyboard.press("Enter");
  await expect(editor(page).locator('[data-path="questions[0].id"]')).toHaveValue("effort");
  await expect(status(page)).toHaveText(/Draft saved/);

  // Add a German text by keyboard.
  await editor(page).getByLabel("Add a language").focus();
  await page.keyboard.type("de");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await expect(editor(page).getByLabel("Texts in")).toHaveValue("de");
  await editor(page).getByLabel("Text (de)").first().focus();
  await page.keyboard.type("Was war schwierig?");
  await expect(status(page)).toHaveText(/Draft saved/);
  const saved = await api(collector, "GET", "/v1/content/surveys/effort");
  expect(saved.body.draft.body.questions[0].text).toEqual({ en: "How easy was it to get this done?", de: "Was war schwierig?" });

  const scan = await new AxeBuilder({ page }).include("#editor").analyze();
  expect(scan.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`)).toEqual([]);
});
