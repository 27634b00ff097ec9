// Content per project in Chromium against the real collector: two projects publish
// different surveys under the same id, and a page of each project shows its own,
// answers into its own project and never sees the other's.
import { test, expect, readApi, Collector } from "./collector-extra";
import type { Page } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

// A projects file's secret keys must be long and random.
const PROJECTS = [
  { public_key: "pk_alpha", secret_key: "sk_alpha_5d1f8a3c9e7b2046f1a8", allowed_origins: ["*"] },
  { public_key: "pk_beta", secret_key: "sk_beta_0c7e2b9f4a6d1358e2b7", allowed_origins: ["*"] },
];

const csat = (text: string) => ({
  id: "csat",
  title: "Quick question",
  questions: [
    { id: "score", kind: "rating", max: 5, text, rules: [{ when: "any", next: "thanks" }] },
  ],
  endings: [{ id: "thanks", message: "Thank you!" }],
});

async function publish(c: Collector, secret: string, body: object) {
  const headers = { authorization: `Bearer ${secret}`, "content-type": "application/json" };
  const saved = await fetch(`${c.url}/v1/content/surveys/csat/draft`, { method: "PUT", headers, body: JSON.stringify(body) });
  expect(saved.status, await saved.text()).toBe(200);
  const done = await fetch(`${c.url}/v1/content/surveys/csat/publish`, { method: "POST", headers });
  expect(done.status).toBe(200);
  return (await done.json()).version as number;
}

/** A host page of project `key`, served from the collector's origin, showing `csat`. */
async function hostOf(page: Page, c: Collector, key: string) {
  const url = `${c.url}/host-${key}.html`;
  await page.route(url, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><html lang="en"><title>${key}</title><main><h1>${key}</h1></main>` +
        `<script src="/touchpoint.js" data-key="${key}" async></script></html>`,
    }),
  );
  await page.goto(url);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await page.evaluate(() => (window as any).Touchpoint.showSurvey("csat"));
  return page.getByRole("dialog");
}

test("two projects hold different surveys under one id, and neither page sees the other's", async ({ browser, startCollector }) => {
  const c = await startCollector((dir) => {
    const file = join(dir, "projects.json");
    writeFileSync(file, JSON.stringify(PROJECTS));
    return ["--projects", file];
  });
  const [alpha, beta] = PROJECTS;
  expect(await publish(c, alpha.secret_key, csat("How was Alpha today?"))).toBe(1);
  expect(await publish(c, beta.secret_key, csat("Did Beta help you?"))).toBe(1);
  expect(await publish(c, beta.secret_key, csat("Did Beta help you this week?"))).toBe(2);

  for (const [project, question, other] of [
    [alpha, "How was Alpha today?", /Beta/],
    [beta, "Did Beta help you this week?", /Alpha/],
  ] as const) {
    const page = await (await browser.newContext()).newPage();
    const card = await hostOf(page, c, project.public_key);
    const group = card.getByRole("group", { name: question });
    await expect(group).toBeVisible();
    await expect(card).not.toContainText(other);
    await group.getByRole("button", { name: "4 out of 5" }).click();
    await expect(card).toContainText("Thank you!");
  }

  // Each project stored its own answer, naming its own version; neither holds the other's.
  c.secret = alpha.secret_key;
  await expect.poll(async () => (await readApi(c, "/v1/events?type=survey_answered")).events.length).toBe(1);
  const a = (await readApi(c, "/v1/events?type=survey_answered")).events;
  expect(a.map((e: any) => [e.survey_id, e.survey_version])).toEqual([["csat", 1]]);
  c.secret = beta.secret_key;
  await expect.poll(async () => (await readApi(c, "/v1/events?type=survey_answered")).events.length).toBe(1);
  const b = (await readApi(c, "/v1/events?type=survey_answered")).events;
  expect(b.map((e: any) => [e.survey_id, e.survey_version])).toEqual([["csat", 2]]);
});
