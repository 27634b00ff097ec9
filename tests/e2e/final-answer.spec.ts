// Rules keyed on an answer act on the response's final answer, once per response: a user who answers 3,
// goes back with the card's own Back button and answers 9 opens no detractor case. Real Chromium, the real
// collector with the repository's automations.json as it is (its default quiet time: these responses close
// when the user reaches an ending, so nothing here waits on that timer).
import { test, expect, readApi, root } from "./collector-extra";
import { openDemo, card } from "./collector";
import type { Page } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The repository's rules; webhooks go to a port nothing listens on (they are not what this checks). */
function automationsFile(dir: string): string {
  const text = readFileSync(join(root, "automations.json"), "utf8").replaceAll("http://127.0.0.1:8788/touchpoint", "http://127.0.0.1:9/touchpoint");
  const config = JSON.parse(text);
  config.email.templates_dir = join(root, "templates");
  const file = join(dir, "automations.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

async function score(page: Page, n: number) {
  await card(page).getByRole("button", { name: new RegExp(`^${n} out of 10`) }).click();
}

test("a user who answers 3, goes back and answers 9 opens no detractor case", async ({ page, browser, startCollector }) => {
  const c = await startCollector((dir) => ["--automations", automationsFile(dir), "--email-outbox", join(dir, "outbox")]);
  await openDemo(page, c);
  await page.getByRole("button", { name: "Give feedback" }).click();
  await score(page, 3);
  await expect(card(page).getByText("What got in the way?")).toBeVisible();
  // The card's Back button, as a user would press it: the score question again, then 9.
  await card(page).getByRole("button", { name: "← Back" }).click();
  await score(page, 9);
  await expect(card(page).getByText("Would you help others find us?")).toBeVisible();
  await card(page).getByRole("button", { name: "Not right now" }).click();
  await expect(card(page).getByRole("heading", { name: "Thank you!" })).toBeVisible();

  // Both scores and the completion are stored, and none of them is flagged: the widget's events are consistent.
  let stored: any = {};
  await expect.poll(async () => {
    stored = await readApi(c, "/v1/events?survey_id=nps");
    return stored.events.filter((e: any) => e.type === "survey_completed").length;
  }).toBe(1);
  const first = stored.events.find((e: any) => e.type === "survey_completed").response_id;
  const scores = stored.events.filter((e: any) => e.response_id === first && e.question_id === "score");
  expect(scores.map((e: any) => e.value)).toEqual([3, 9]);
  expect(stored.flags).toEqual({});

  // A control, in a browser of its own: a detractor who finishes opens exactly one case.
  const other = await browser.newContext();
  const second = await other.newPage();
  await openDemo(second, c);
  await second.getByRole("button", { name: "Give feedback" }).click();
  await score(second, 3);
  await card(second).getByRole("button", { name: "Too hard to use" }).click();
  await expect(card(second).getByRole("heading", { name: "Thank you for being honest" })).toBeVisible();
  await expect.poll(async () => (await readApi(c, "/v1/cases?status=all")).cases.length).toBe(1);

  // Responses are settled in the order they became due, so the first one was looked at before the control:
  // the only case is the control's, for its score of 3.
  await page.waitForTimeout(1000);
  const { cases } = await readApi(c, "/v1/cases?status=all");
  expect(cases).toHaveLength(1);
  expect(cases[0]).toMatchObject({ rule: "detractor_follow_up", detail: { event: { question_id: "score", value: 3 } } });
  expect(cases[0].detail.event.response_id).not.toBe(first);
  await other.close();
});
