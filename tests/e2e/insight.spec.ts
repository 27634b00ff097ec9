// Insight on the dashboard, in Chromium against the real collector with the repository's
// checklists.json and accounts.json: a scripted history in which users who invite a teammate
// within 7 days stay active far more often; success-behavior discovery ranks that first with a
// lift whose interval excludes 1 and calls a rare event too few to tell; the health-score check
// shows its figure; filtering by segment large_org changes the NPS, the funnel and the responses
// CSV to exactly that segment's rows, compared with the stored events read through /v1/events.
import { test, expect, readApi, postEvents, artifacts, root, Collector } from "./collector-extra";
import type { Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const DAY = 86_400_000;
// The comparison needs people whose weeks 4–8 are over: the history starts 100 days ago.
const START = Date.now() - 100 * DAY;

let seq = 0;
const id = () => `insight-${String(seq++).padStart(5, "0")}`;

/** 30 inviters (27 back in week 5) and 30 others (4 back); the first 10 of each are large organisations. */
function history() {
  const out: object[] = [];
  for (const [group, invites, back] of [["inv", true, 27], ["not", false, 4]] as const) {
    for (let i = 0; i < 30; i++) {
      const user = `${group}${i}`;
      const first = START + i * 60_000;
      const base = (ts: number) => ({ id: id(), ts, anonymous_id: `b-${user}`, user_id: user, url: "https://app.example.com/" });
      const track = (day: number, name: string) => ({ ...base(first + day * DAY), type: "track", name, props: {} });
      const large = i < 10;
      out.push({ ...base(first), type: "identify", traits: { team_size: large ? 200 : 4, plan: i % 2 ? "free" : "pro" } });
      out.push({ ...base(first), type: "group", account_id: `${group}-${large ? "big" : "small"}-${i % 5}`, traits: { seats: large ? 200 : 4 } });
      out.push(track(0, "created_project"));
      if (invites) out.push(track(2, "invited_teammate"));
      if (i < back) out.push(track(35, "opened_report"));
      if ((group === "inv" && i === 0) || (group === "not" && i < 2)) out.push(track(1, "exported_pdf"));
      if (i < 20) {
        const score = invites ? (i % 2 ? 9 : 10) : large ? 8 : i % 2 ? 8 : 3;
        const sv = { survey_id: "nps", response_id: `resp-${user}` };
        out.push({ ...base(first + 3 * DAY), ...sv, type: "survey_shown" });
        out.push({ ...base(first + 3 * DAY + 1000), ...sv, type: "survey_answered", question_id: "score", value: score });
      }
    }
  }
  return out;
}

async function scripted(startCollector: (extra: (dir: string) => string[]) => Promise<Collector>) {
  const c = await startCollector(() => ["--accounts", join(root, "accounts.json")]);
  await postEvents(c, history());
  return c;
}

async function signIn(page: Page, c: Collector, path = "/dashboard") {
  await page.goto(`${c.url}${path}`);
  await page.getByLabel("Secret key").fill("sk_demo");
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await expect(page.locator("body[data-insight=loaded]")).toHaveCount(1, { timeout: 20_000 });
}

/** % promoters − % detractors, one decimal, as the dashboard shows it. */
function nps(scores: number[]) {
  const p = scores.filter((s) => s >= 9).length, d = scores.filter((s) => s <= 6).length;
  return Math.round(((p - d) / scores.length) * 1000) / 10;
}

/** RFC 4180, enough for the responses export. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") { row.push(field); field = ""; }
    else if (ch === "\r") { /* CRLF */ }
    else if (ch === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else field += ch;
  }
  return rows;
}

test("discovery ranks inviting a teammate first, calls a rare event too few to tell, and the health check shows its figure", async ({ page, startCollector, consoleErrors }) => {
  await page.setViewportSize({ width: 1400, height: 1000 });
  const c = await scripted(startCollector);
  await signIn(page, c);

  const panel = page.getByRole("region", { name: "Success behaviors" });
  const first = panel.locator("tbody tr").first();
  await expect(first).toHaveAttribute("data-event", "invited_teammate");
  await expect(first.locator("td").nth(7)).toHaveText("stay more often");
  // The lift cell: "6.75 [low–high]", and the interval lies above 1.
  const lift = (await first.locator("td").nth(4).textContent())!;
  const m = lift.match(/^([\d.]+) \[([\d.]+)–([\d.]+)\]$/);
  expect(m, lift).not.toBeNull();
  expect(Number(m![1])).toBeCloseTo(27 / 4, 2);
  expect(Number(m![2])).toBeGreaterThan(1);
  await expect(first.locator("td").nth(3)).toHaveText("90% of 30 vs 13% of 30");
  await expect(first.locator("td").nth(8)).toContainText("get_started/invite_teammate");
  const rare = panel.locator('tbody tr[data-event="exported_pdf"]');
  await expect(rare.locator("td").nth(7)).toHaveText("too few to tell");
  await expect(rare.locator("td").nth(9)).toContainText("too few to tell");
  await expect(panel.getByRole("note")).toContainText("Correlation is not causation");
  await expect(panel.getByRole("note")).toContainText("A/B");

  // The health-score check, beside today's weights, as the API computes it.
  const check = page.getByRole("region", { name: "Health score check" });
  const api = await readApi(c, "/v1/insight/backtest");
  expect(api.samples).toBeGreaterThan(0);
  expect(typeof api.auc).toBe("number");
  await expect(check.locator("#backtest-auc")).toHaveText(String(Math.round(api.auc * 100) / 100));
  await expect(check.locator("#backtest-summary")).toHaveText(api.summary);
  expect(api.sampled).toBeNull();
  await expect(check.locator("#backtest-sampled")).toHaveCount(0);
  const weights = await check.locator("table.weights tbody tr td:first-child").allTextContents();
  const file = JSON.parse(readFileSync(join(root, "accounts.json"), "utf8"));
  expect(weights).toEqual(file.health.signals.map((s: any) => s.signal));

  await page.screenshot({ path: `${artifacts}/insight.png`, fullPage: true });
  // Cases answer 404 here (no automations file): the browser logs that, nothing else may fail.
  expect(consoleErrors.filter((e) => !e.includes("status of 404"))).toEqual([]);
});

test("the health check says, as text, when it scored a fixed sample of the accounts", async ({ page, startCollector }) => {
  const c = await scripted(startCollector);
  // 20 accounts here: the page's read asks for at most 5, as a project of more than 2 000 is sampled.
  await page.route("**/v1/insight/backtest*", (route) => {
    const url = new URL(route.request().url());
    url.searchParams.set("max_accounts", "5");
    return route.continue({ url: url.toString() });
  });
  await signIn(page, c);
  const api = await readApi(c, "/v1/insight/backtest?max_accounts=5");
  expect(api.sampled).toEqual({ accounts: 5, of: 20 });
  const check = page.getByRole("region", { name: "Health score check" });
  await expect(check.locator("#backtest-sampled")).toHaveText("Scored on a fixed sample of 5 of 20 accounts.");
  await expect(check.locator("#backtest-summary")).toHaveText(api.summary);
  await expect(check.locator(".hint").last()).toContainText("Above 5 accounts, a fixed hash sample of 5");
});

test("filtering by segment large_org narrows the NPS, the funnel and the responses CSV to exactly that segment, kept in the URL", async ({ page, startCollector }) => {
  await page.setViewportSize({ width: 1400, height: 1000 });
  const c = await scripted(startCollector);

  // Straight from the stored events: who is a large organisation (team_size ≥ 51), and their scores.
  const identifies = await c.events({ type: "identify", limit: "10000" });
  const large = new Set(identifies.filter((e: any) => e.traits.team_size >= 51).map((e) => e.user_id!));
  expect(large.size).toBe(20);
  const answers = await c.events({ type: "survey_answered", limit: "10000" });
  const largeAnswers = answers.filter((e) => large.has(e.user_id!));
  const all = nps(answers.map((e: any) => e.value));
  const onlyLarge = nps(largeAnswers.map((e: any) => e.value));
  expect(onlyLarge).not.toBe(all);

  await signIn(page, c);
  const value = page.locator("#nps-value");
  await expect(value).toHaveText(String(all));

  await page.getByLabel("Segment", { exact: true }).selectOption("large_org");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/[?&]segment=large_org/);
  await expect(value).toHaveText(String(onlyLarge));
  await expect(page.locator("#nps-responses")).toHaveText(String(largeAnswers.length));

  const funnel = page.getByRole("region", { name: "Checklist funnel by segment" });
  await expect(funnel.locator("[data-segment]")).toHaveCount(1);
  await expect(funnel.locator('[data-segment="large_org"] h3')).toHaveText("large_org · rollout · 20 users");

  // The breakdown under the same filter: one group, its sample size.
  const groups = page.getByRole("region", { name: "NPS by group" }).locator("tbody tr");
  await expect(groups).toHaveCount(1);
  await expect(groups.first()).toHaveAttribute("data-group", "large_org");

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download responses (CSV)" }).click()]);
  const rows = parseCsv(readFileSync(await download.path(), "utf8"));
  const header = rows[0];
  for (const column of ["account_id", "trait.team_size", "trait.plan"]) expect(header).toContain(column);
  const col = (name: string) => header.indexOf(name);
  const csvUsers = rows.slice(1).map((r) => r[col("user_id")]).sort();
  expect(csvUsers).toEqual([...new Set(largeAnswers.map((e) => e.user_id!))].sort());
  for (const r of rows.slice(1)) expect(r[col("trait.team_size")]).toBe("200");

  // The URL carries the view: opening it again shows the same filtered figures.
  const shared = new URL(page.url());
  await page.goto(shared.toString());
  await expect(page.locator("body[data-insight=loaded]")).toHaveCount(1, { timeout: 20_000 });
  await expect(page.getByLabel("Segment", { exact: true })).toHaveValue("large_org");
  await expect(value).toHaveText(String(onlyLarge));

  // Clearing the filters brings every response back.
  await page.getByRole("button", { name: "Clear" }).click();
  await expect(value).toHaveText(String(all));
  await expect(page).not.toHaveURL(/segment=/);
});
