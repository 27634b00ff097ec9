// The dashboard in Chromium over a scripted data set posted to the real collector:
// sign in with the secret key, check every panel's figures, save a screenshot,
// close a case, and download the CSV exports and compare them with the stored rows.
import { test, expect, readApi, postEvents, artifacts, Collector } from "./collector-extra";
import type { Page } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const WEEK1 = Date.UTC(2023, 10, 13); // Monday 2023-11-13
const WEEK2 = WEEK1 + 7 * 86_400_000;
const DAY = 86_400_000;
const TRICKY = 'Too slow, "really", on big boards\nand exports';
const FORMULA = '=HYPERLINK("http://evil.example","10")';

let seq = 0;
const id = () => `e2e-${String(seq++).padStart(5, "0")}`;
const base = (user: string, ts: number) => ({ id: id(), ts, anonymous_id: `b-${user}`, user_id: user, url: "https://app.example.com/" });
const sv = (r: number, ts: number, kind: object) => ({ ...base(`u${r}`, ts), survey_id: "nps", response_id: `resp-${r}`, ...kind });
const shown = (r: number, ts: number) => sv(r, ts, { type: "survey_shown" });
const answer = (r: number, ts: number, question_id: string, value: unknown) => sv(r, ts, { type: "survey_answered", question_id, value });
// The collector stores a completion whose actions are not its ending's as rejected: send the definition's.
const SURVEY = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../surveys/nps.json"), "utf8"));
const actionsOf = (ending_id: string) => SURVEY.endings.find((e: any) => e.id === ending_id).actions ?? [];
const ending = (r: number, ts: number, ending_id: string) => sv(r, ts, { type: "survey_completed", ending_id, actions: actionsOf(ending_id) });
const dismissed = (r: number, ts: number, question_id: string) => sv(r, ts, { type: "survey_dismissed", question_id });
const t = (week: number, day: number, minute: number) => week + day * DAY + minute * 60_000;

/** Eight showings over two weeks: NPS 25 then −33.3, 0 overall; 7 of 8 answered, 5 completed. */
function surveyData() {
  return [
    shown(1, t(WEEK1, 0, 0)), answer(1, t(WEEK1, 0, 1), "score", 10), answer(1, t(WEEK1, 0, 2), "referral", "review"), ending(1, t(WEEK1, 0, 3), "promoter_review"),
    shown(2, t(WEEK1, 1, 0)), answer(2, t(WEEK1, 1, 1), "score", 5), answer(2, t(WEEK1, 1, 2), "score", 9), answer(2, t(WEEK1, 1, 3), "referral", "later"), ending(2, t(WEEK1, 1, 4), "promoter_thanks"),
    shown(3, t(WEEK1, 2, 0)), answer(3, t(WEEK1, 2, 1), "score", 3), answer(3, t(WEEK1, 2, 2), "obstacle", "not_ready"), ending(3, t(WEEK1, 2, 3), "trial_offer"),
    shown(4, t(WEEK1, 3, 0)), answer(4, t(WEEK1, 3, 1), "score", 7), answer(4, t(WEEK1, 3, 2), "make_it_10", FORMULA), ending(4, t(WEEK1, 3, 3), "passive_thanks"),
    shown(5, t(WEEK2, 0, 0)), answer(5, t(WEEK2, 0, 1), "score", 0), answer(5, t(WEEK2, 0, 2), "obstacle", "other"), answer(5, t(WEEK2, 0, 3), "obstacle_other", TRICKY), ending(5, t(WEEK2, 0, 4), "detractor_thanks"),
    shown(6, t(WEEK2, 1, 0)), answer(6, t(WEEK2, 1, 1), "score", 6), answer(6, t(WEEK2, 1, 2), "obstacle", "missing_feature"), dismissed(6, t(WEEK2, 1, 3), "obstacle"),
    shown(7, t(WEEK2, 2, 0)), answer(7, t(WEEK2, 2, 1), "score", 10), dismissed(7, t(WEEK2, 2, 2), "referral"),
    shown(8, t(WEEK2, 3, 0)),
  ];
}

/** Checklist users: c1 and c3 succeed early, c2 and c4 never do. */
function checklistData() {
  const identify = (user: string, team_size: number) => ({ ...base(user, WEEK1), type: "identify", traits: { team_size } });
  const track = (user: string, ts: number, name: string, props = {}) => ({ ...base(user, ts), type: "track", name, props });
  return [
    identify("c1", 4), track("c1", WEEK1 + 3_600_000, "created_project"), track("c1", WEEK1 + 7_200_000, "imported_data", { rows: 5 }),
    identify("c2", 4),
    identify("c3", 20), track("c3", WEEK1 + DAY, "created_project"),
    identify("c4", 200),
  ];
}

function helpData() {
  const search = (user: string, ts: number, query: string, result_count: number) => ({ ...base(user, ts), type: "help_searched", query, result_count });
  return [search("c1", WEEK1, "Export PDF", 0), search("c2", WEEK1 + 1, " export   pdf ", 0), search("c1", WEEK1 + 2, "export pdf", 0),
          search("c3", WEEK1 + 3, "billing", 3), search("c3", WEEK1 + 4, "SSO", 0)];
}

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\r" && text[i + 1] === "\n") { /* the \n ends the record */ }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else field += c;
  }
  expect(field === "" && row.length === 0, "the CSV ends with a line break").toBe(true);
  return rows;
}

async function scripted(startCollector: (extra: (dir: string) => string[]) => Promise<Collector>) {
  const c = await startCollector((dir) => {
    const file = join(dir, "automations.json");
    writeFileSync(file, JSON.stringify({ rules: [{ id: "detractor_case", when: { score: { survey: "nps", min: 0, max: 6 } },
                                                   do: [{ action: "case", title: "Detractor: reply personally" }] }] }));
    return ["--automations", file];
  });
  await postEvents(c, [...surveyData(), ...checklistData(), ...helpData()]);
  // The rule acts on each response's final score: u2 went from 5 to 9, and opens no case.
  await expect.poll(async () => (await readApi(c, "/v1/cases?status=open")).cases.length).toBe(3);
  return c;
}

async function signIn(page: Page, c: Collector, key: string) {
  await page.goto(`${c.url}/dashboard`);
  await page.getByLabel("Secret key").fill(key);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
}

test("the dashboard shows the figures of a scripted data set", async ({ page, startCollector, consoleErrors }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  const c = await scripted(startCollector);

  // Wrong keys are refused, and say why.
  await signIn(page, c, "sk_wrong");
  await expect(page.getByRole("alert")).toHaveText("this secret key belongs to no project");
  await page.getByLabel("Secret key").fill("pk_demo");
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await expect(page.getByRole("alert")).toHaveText("that is a public ingest key; this API needs the project's secret key");
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

  await page.getByLabel("Secret key").fill("sk_demo");
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await expect(page.locator("body[data-loaded=true]")).toHaveCount(1);
  // The fixture survey "hostile" sorts first; the dashboard opens on the NPS survey.
  await expect(page.getByLabel("Survey")).toHaveValue("nps");

  const nps = page.getByRole("region", { name: "Net Promoter Score" });
  await expect(nps.locator("#nps-value")).toHaveText("0");
  for (const [field, value] of [["responses", "7"], ["promoters", "3"], ["passives", "1"], ["detractors", "3"]]) {
    await expect(nps.locator(`#nps-${field}`)).toHaveText(value);
  }
  await expect(nps.locator("#showings")).toHaveText("8");
  await expect(nps.locator("#response-rate")).toHaveText("87.5%");
  await expect(nps.locator("#completion-rate")).toHaveText("62.5%");

  const trend = page.getByRole("region", { name: "NPS over time" });
  await expect(trend.locator('g.point[data-period="2023-11-13"] text.value')).toHaveText("25");
  await expect(trend.locator('g.point[data-period="2023-11-20"] text.value')).toHaveText("-33.3");
  await expect(trend.locator("g.point")).toHaveCount(2);

  const dist = page.getByRole("region", { name: "Score distribution" });
  const counts = await dist.locator("g.bar").evaluateAll((bars) => bars.map((b) => Number(b.getAttribute("data-count"))));
  expect(counts).toEqual([1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 2]);

  const follow = page.getByRole("region", { name: "Follow-up answers" });
  const obstacle = follow.locator('[data-question="obstacle"]');
  await expect(obstacle.getByRole("heading", { name: "What got in the way?" })).toBeVisible();
  await expect(obstacle.getByText("3 answered")).toBeVisible();
  const choice = (label: string) => obstacle.locator(`g.row[data-label="${label}"]`);
  await expect(choice("Not ready to upgrade")).toHaveAttribute("data-value", "1");
  await expect(choice("Missing feature")).toHaveAttribute("data-value", "1");
  await expect(choice("Too hard to use")).toHaveAttribute("data-value", "0");
  await expect(follow.locator('[data-question="referral"] g.row[data-label="Sure, I\'ll write a review"]')).toHaveAttribute("data-value", "1");
  // Free text is shown as text, exactly as typed (a formula stays a string here).
  await expect(follow.locator('[data-question="obstacle_other"] li q')).toHaveText(TRICKY);
  await expect(follow.locator('[data-question="make_it_10"] li q')).toHaveText(FORMULA);

  const funnel = page.getByRole("region", { name: "Checklist funnel by segment" });
  // u1–u8 answered the survey without identify traits, so they are in the default segment.
  await expect(funnel.locator('[data-segment="small_team"] h3')).toHaveText("small_team · get_started · 10 users");
  await expect(funnel.locator('[data-segment="small_team"] g.row[data-label="create_project"] text.value')).toHaveText("1/10");
  await expect(funnel.locator('[data-segment="small_team"] g.row[data-label="import_data"] text.value')).toHaveText("1/10");
  await expect(funnel.locator('[data-segment="mid_team"] h3')).toHaveText("mid_team · team_setup · 1 user");
  await expect(funnel.locator('[data-segment="mid_team"] g.row[data-label="create_project"] text.value')).toHaveText("1/1");
  await expect(funnel.locator('[data-segment="large_org"] h3')).toHaveText("large_org · rollout · 1 user");

  const churn = page.getByRole("region", { name: "Churn risk" });
  const atRisk = await churn.locator("tbody tr td:first-child").allTextContents();
  expect(atRisk.sort()).toEqual(["c2", "c4", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"]);

  const cases = page.getByRole("region", { name: "Open cases" });
  await expect(cases.locator("tbody tr")).toHaveCount(3);
  const users = await cases.locator("tbody tr td:nth-child(3)").allTextContents();
  expect(users.sort()).toEqual(["u3", "u5", "u6"]);
  await expect(cases.locator("tbody tr", { hasText: "u3" })).toContainText("score = 3");

  const help = page.getByRole("region", { name: "Help searches without a result" });
  await expect(help.getByText("4 of 5 searches found nothing.")).toBeVisible();
  const helpRows = await help.locator("tbody tr").evaluateAll((rows) => rows.map((r) => [...r.children].slice(0, 3).map((td) => td.textContent)));
  expect(helpRows).toEqual([["export pdf", "3", "2"], ["sso", "1", "1"]]);

  await page.screenshot({ path: `${artifacts}/dashboard.png`, fullPage: true });

  // Close a case: it leaves the open list, and the API has it closed.
  await cases.getByRole("button", { name: /Close case: .* \(u3\)/ }).click();
  await expect(cases.locator("tbody tr")).toHaveCount(2);
  const all = (await readApi(c, "/v1/cases?status=closed")).cases;
  expect(all.map((x: any) => x.user_id)).toEqual(["u3"]);

  // The key stays for this tab: a reload opens the dashboard directly.
  await page.reload();
  await expect(page.locator("body[data-loaded=true]")).toHaveCount(1);
  await expect(page.locator("#nps-value")).toHaveText("0");

  // Nothing broke the page's policy (no inline script, nothing from elsewhere).
  expect(consoleErrors.filter((e) => !e.includes("status of 403"))).toEqual([]);
});

test("the CSV exports match the stored rows", async ({ page, startCollector }) => {
  const c = await scripted(startCollector);
  await signIn(page, c, "sk_demo");
  await expect(page.locator("body[data-loaded=true]")).toHaveCount(1);

  const [events] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download events (CSV)" }).click()]);
  expect(events.suggestedFilename()).toBe("events.csv");
  const rows = parseCsv(readFileSync(await events.path(), "utf8"));
  expect(rows[0]).toEqual(["id", "type", "ts", "time_utc", "received_at", "anonymous_id", "user_id", "url", "survey_id", "response_id", "question_id", "body", "rejected", "ts_flag"]);
  const stored = await c.events({ limit: "10000" });
  expect(rows.length - 1).toBe(stored.length);
  expect(stored.length).toBe(surveyData().length + checklistData().length + helpData().length);
  const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
  for (const e of stored) {
    const r = byId.get(e.id)!;
    expect(r, e.id).toBeDefined();
    expect([r[1], Number(r[2]), r[3], r[5], r[6], r[7]]).toEqual([e.type, e.ts, new Date(e.ts).toISOString(), e.anonymous_id, e.user_id ?? "", e.url]);
    expect([r[8], r[9], r[10]]).toEqual([String(e.survey_id ?? ""), String(e.response_id ?? ""), String(e.question_id ?? "")]);
    expect(JSON.parse(r[11])).toEqual(e);
  }
  // Stored order (by ts): the export lists the events in the same order as the API.
  expect(rows.slice(1).map((r) => r[0])).toEqual(stored.map((e) => e.id));

  const [responses] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download responses (CSV)" }).click()]);
  expect(responses.suggestedFilename()).toBe("responses-nps.csv");
  const table = parseCsv(readFileSync(await responses.path(), "utf8"));
  const header = table[0];
  const record = (rid: string) => Object.fromEntries(header.map((h, i) => [h, table.find((r) => r[0] === rid)![i]]));
  expect(table.length - 1).toBe(8);
  expect(record("resp-5")).toMatchObject({ user_id: "u5", score: "0", category: "detractor", obstacle: "other", obstacle_other: TRICKY, ending_id: "detractor_thanks", status: "completed" });
  expect(record("resp-2")).toMatchObject({ score: "9", category: "promoter", referral: "later" });
  expect(record("resp-4").make_it_10).toBe(`'${FORMULA}`);
  expect(record("resp-8")).toMatchObject({ score: "", status: "open" });
});
