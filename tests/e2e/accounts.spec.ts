// Accounts end to end: the real collector started with the repository's accounts.json
// (tiers, health weights, stages, routing) and a webhook receiver on 127.0.0.1; a scripted
// set of accounts and users posted as events; the widget's group() in Chromium; the
// dashboard's accounts table and account page (screenshots in tests/artifacts/).
import { test, expect, readApi, postEvents, artifacts, root, Collector } from "./collector-extra";
import type { Browser, Page } from "@playwright/test";
import { createServer, IncomingHttpHeaders } from "node:http";
import { AddressInfo } from "node:net";
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Hit = { headers: IncomingHttpHeaders; body: string };

async function receiver() {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      hits.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/crm`;
  return { url, hits, close: () => new Promise((ok) => server.close(ok)) };
}

const SECRET = "whsec_accounts_e2e_0123456789";

/** The repository's accounts.json with the routing webhook sent to `url`, and an automations
 *  file without rules that only gives the project's signing secret and fast retries (the
 *  automation worker delivers routing webhooks through its outbox). */
function configFiles(dir: string, url: string): string[] {
  const accounts = readFileSync(join(root, "accounts.json"), "utf8").replaceAll("http://127.0.0.1:8788/touchpoint", url);
  writeFileSync(join(dir, "accounts.json"), accounts);
  const automations = {
    projects: { pk_demo: { webhook_secret: SECRET } },
    webhooks: { first_retry_ms: 200, max_retry_ms: 1000, max_attempts: 5, timeout_ms: 3000 },
    email: { templates_dir: join(root, "templates") },
    rules: [],
  };
  writeFileSync(join(dir, "automations.json"), JSON.stringify(automations));
  return ["--accounts", join(dir, "accounts.json"), "--automations", join(dir, "automations.json"), "--email-outbox", join(dir, "outbox")];
}

/** Verifies `X-Touchpoint-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>` as a receiver would (the collector README's recipe). */
function signatureValid(hit: Hit): boolean {
  const f = Object.fromEntries(String(hit.headers["x-touchpoint-signature"] ?? "").split(",").map((p) => p.split("=", 2)));
  const t = Number(f.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const want = createHmac("sha256", SECRET).update(`${t}.${hit.body}`).digest();
  const got = Buffer.from(f.v1 ?? "", "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

const DAY = 86_400_000;
let seq = 0;
const ev = (user: string, ts: number, kind: object) =>
  ({ id: `acc-${seq++}`, ts, anonymous_id: `b-${user}`, user_id: user, url: "https://app.example.com/", ...kind });
const identify = (user: string, ts: number, team_size: number) => ev(user, ts, { type: "identify", traits: { team_size } });
const group = (user: string, ts: number, account_id: string, traits: object) => ev(user, ts, { type: "group", account_id, traits });
const track = (user: string, ts: number, name: string, props: object = {}) => ev(user, ts, { type: "track", name, props });
const nps = (user: string, ts: number, value: number) =>
  ev(user, ts, { type: "survey_answered", survey_id: "nps", response_id: `r-${user}`, question_id: "score", value });

/** Three customers, as their users' events:
 *  - Globex, 200 seats: four users who answered as detractors 40 days ago and stopped;
 *  - Initech, 12 seats: three promoters who did every success behavior and are active daily;
 *  - Hooli, 3 seats: one user who started an hour ago. */
function scripted(now: number) {
  const evs: object[] = [];
  [2, 3, 4, 6].forEach((score, i) => {
    const u = `globex-${i}`, t = now - 45 * DAY + i;
    evs.push(identify(u, t, 200), group(u, t + 1, "globex", { name: "Globex", seats: 200, owner: "olga@acme.example" }));
    evs.push(track(u, t + 2, "created_project"), nps(u, now - 40 * DAY + i, score));
  });
  [9, 10, 9].forEach((score, i) => {
    const u = `initech-${i}`, t = now - 10 * DAY + i;
    evs.push(identify(u, t, 12), group(u, t + 1, "initech", { name: "Initech", seats: 12, owner: "sam@acme.example" }));
    evs.push(track(u, t + 2, "created_project"), track(u, t + 3, "imported_data", { rows: 40 }),
             track(u, t + 4, "invited_teammate"), track(u, t + 5, "connected_integration", { integration: "slack" }));
    for (let d = 0; d < 8; d++) evs.push(track(u, now - d * DAY - 60_000, "opened_board"));
    evs.push(nps(u, now - 2 * DAY + i, score));
  });
  const h = now - 3_600_000;
  evs.push(identify("hooli-0", h, 3), group("hooli-0", h + 1, "hooli", { name: "Hooli", seats: 3, owner: "hana@acme.example" }),
           track("hooli-0", h + 2, "created_project"), track("hooli-0", h + 3, "imported_data", { rows: 5 }));
  return evs;
}

async function signIn(page: Page, c: Collector) {
  await page.goto(`${c.url}/dashboard`);
  await page.getByLabel("Secret key").fill("sk_demo");
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await expect(page.locator("body")).toHaveAttribute("data-loaded", "true");
}

test("scripted accounts get the expected health, stage and tier; the at-risk account is routed to its owner once; the dashboard shows it", async ({ page, startCollector }) => {
  const hook = await receiver();
  const c = await startCollector((dir) => configFiles(dir, hook.url));
  await postEvents(c, scripted(Date.now()));

  // Assessed as the events arrive (the accounts worker is woken by ingest).
  const summary = async () =>
    (await readApi(c, "/v1/accounts")).accounts.map((a: any) => [a.account_id, a.health, a.stage, a.tier, a.owner]);
  await expect.poll(summary).toEqual([
    // NPS −100 → 0 of 30; rollout checklist 0 of 4 → 0 of 20; 1 of 4 behaviors → 5 of 20;
    // 40 days inactive → 0 of 15 and 0 of 10; no open case → 5 of 5.
    ["globex", 10, "at_risk", "high_touch", "olga@acme.example"],
    // No NPS yet → 15 of 30; 2 of 4 items → 10; 2 of 4 behaviors → 10; active now → 15;
    // 1 active day of 7 → 1.4; no case → 5: 56, in its first week → onboarding.
    ["hooli", 56, "onboarding", "tech_touch", "hana@acme.example"],
    ["initech", 100, "champion", "low_touch", "sam@acme.example"],
  ]);

  // Globex is routed to its owner: one signed webhook, one case assigned to Olga, on the at-risk list.
  await expect.poll(() => hook.hits.length).toBe(1);
  const hit = hook.hits[0];
  expect(signatureValid(hit)).toBe(true);
  expect(hit.headers["x-touchpoint-rule"]).toBe("at_risk_to_owner");
  const payload = JSON.parse(hit.body);
  expect(payload).toMatchObject({
    rule: "at_risk_to_owner", project: "pk_demo", trigger: "account_routing", trigger_id: "account:globex:at_risk_to_owner:0",
    reason: "stage \"at_risk\" (= \"at_risk\")",
    account: { id: "globex", owner: "olga@acme.example", tier: "high_touch", stage: "at_risk", health: 10 },
  });
  const cases = (await readApi(c, "/v1/cases?status=open")).cases.filter((x: any) => x.rule === "at_risk_to_owner");
  expect(cases.map((x: any) => x.title)).toEqual(["Account at risk: call them this week — account globex (owner: olga@acme.example)"]);
  expect(cases[0].detail.assigned_to).toBe("olga@acme.example");
  expect((await readApi(c, "/v1/accounts/lists")).lists).toMatchObject({
    at_risk: [{ account_id: "globex", rule_id: "at_risk_to_owner" }],
    upsell: [{ account_id: "initech", rule_id: "upsell_champions" }],
  });

  // The accounts worker assessed them when the events arrived and kept the first snapshot of each.
  const history = (await readApi(c, "/v1/accounts/globex")).history;
  expect(history.map((h: any) => [h.score, h.stage, h.tier])).toEqual([[10, "at_risk", "high_touch"]]);

  // More events arrive (each wakes the assessment again): Globex is still at risk, and not routed twice.
  for (let i = 0; i < 3; i++) {
    await postEvents(c, [track("hooli-0", Date.now(), "opened_board")]);
    await new Promise((r) => setTimeout(r, 500));
  }
  const decisions = (await readApi(c, "/v1/accounts/routing")).decisions;
  expect(decisions.map((d: any) => [d.account_id, d.rule_id]).sort()).toEqual([["globex", "at_risk_to_owner"], ["initech", "upsell_champions"]]);
  expect(hook.hits.length).toBe(1);
  expect((await readApi(c, "/v1/cases?status=open")).cases.filter((x: any) => x.rule === "at_risk_to_owner")).toHaveLength(1);

  // The dashboard: the accounts table, lowest health first, then Globex's page.
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page, c);
  const rows = page.locator("#accounts tbody tr");
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0)).toContainText("Globex");
  await expect(rows.nth(0).locator("[data-health]")).toHaveText("10");
  await expect(rows.nth(0)).toContainText("at_risk");
  await expect(rows.nth(0)).toContainText("high_touch");
  await expect(rows.nth(0)).toContainText("olga@acme.example");
  await expect(rows.nth(2)).toContainText("Initech");
  await expect(rows.nth(2)).toContainText("upsell");
  await page.locator("#h-accounts").scrollIntoViewIfNeeded();
  await page.locator("#accounts").screenshot({ path: `${artifacts}/accounts-table.png` });

  // The open-cases panel says which account and why.
  await expect(page.locator("#cases")).toContainText("account globex (health 10): stage \"at_risk\" (= \"at_risk\")");
  await page.screenshot({ path: `${artifacts}/accounts-dashboard.png`, fullPage: true });

  await page.getByRole("button", { name: "Open account globex" }).click();
  const account = page.locator("#account");
  await expect(account.getByRole("heading", { name: "Account: Globex" })).toBeVisible();
  await expect(account).toContainText("stage at_risk because age_days 45 (>= 7), health 10 (< 40)");
  await expect(account.locator('g.signal[data-signal="behaviors"]')).toContainText("5 / 20");
  await expect(account).toContainText("4 users answered: 0 promoters, 0 passive, 4 detractors (NPS -100)");
  await expect(account.locator("table").filter({ hasText: "Latest NPS" }).locator("tbody tr")).toHaveCount(4);
  await expect(account.locator("table").filter({ hasText: "Assigned to" })).toContainText("olga@acme.example");
  await expect(account.locator("table").filter({ hasText: "Rule" })).toContainText("at_risk_to_owner");
  await account.screenshot({ path: `${artifacts}/accounts-globex.png` });

  // CSV export of the table.
  const csv = await (await fetch(`${c.url}/v1/export/accounts.csv`, { headers: { authorization: "Bearer sk_demo" } })).text();
  expect(csv.split("\r\n")[0]).toBe("account_id,name,owner,tier,stage,health,trend_7d,users,lists,breakdown");
  expect(csv).toContain("globex,Globex,olga@acme.example,high_touch,at_risk,10,");
  await hook.close();
});

async function anonymousIdOf(page: Page): Promise<string> {
  return (await page.evaluate(() => localStorage.getItem("touchpoint:pk_demo:anonymous_id")))!;
}

async function openAs(browser: Browser, c: Collector, user: string, account: string) {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(`${c.url}/settings.html?autoshow=0&user=${user}&team_size=20&account=${account}`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  return page;
}

test("an account-level checklist item completed by two teammates shows as done, with who did it, in a third user's widget", async ({ browser, collector }) => {
  // Ann invites two people, Bob one, each in their own browser, in the same account (the demo app calls group()).
  const stored = async (user: string, n: number) => {
    const evs = await collector.eventsUntil({ anonymous_id: await anonymousIdOf(pages[user]) },
      (e) => e.some((x) => x.type === "group") && e.filter((x) => x.name === "invited_teammate").length === n);
    expect(evs.find((x) => x.type === "group")?.user_id).toBe(user);
  };
  const pages: Record<string, Page> = {};
  const invite = (p: Page) => p.getByRole("button", { name: "Invite teammate" }).click();
  pages.ann = await openAs(browser, collector, "ann", "umbrella");
  await invite(pages.ann);
  await invite(pages.ann);
  await stored("ann", 2);
  pages.bob = await openAs(browser, collector, "bob", "umbrella");
  await invite(pages.bob);
  await stored("bob", 1);
  // Someone of another account invites too: it must not count for Umbrella.
  pages.zed = await openAs(browser, collector, "zed", "other_co");
  await invite(pages.zed);
  await stored("zed", 1);
  const zed = pages.zed;

  // Cid, who invited nobody, opens the app: "Invite three teammates" is done for him, and says by whom.
  const cid = await openAs(browser, collector, "cid", "umbrella");
  await cid.getByRole("button", { name: /Get started/ }).click();
  const panel = cid.getByRole("region", { name: /./ });
  await expect(panel.getByRole("heading")).toHaveText("Set up Acme for your team");
  const item = panel.getByRole("button", { name: /^Invite three teammates/ });
  await expect(item).toHaveAccessibleName(/, done$/);
  await expect(panel.locator(".tp-cl-who")).toHaveText("Counts for your whole team: ann ×2, bob ×1");
  await expect(panel.getByRole("button", { name: /^Create a shared project/ })).toHaveAccessibleName(/, to do$/);
  await cid.screenshot({ path: `${artifacts}/accounts-checklist-teammate.png` });

  // Zed's account has one invitation: not done for him.
  await zed.reload();
  await zed.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await zed.getByRole("button", { name: /Get started/ }).click();
  await expect(zed.getByRole("region", { name: /./ }).getByRole("button", { name: /^Invite three teammates/ })).toHaveAccessibleName(/, to do$/);
});

test("a checklist segment on account traits (account.seats) picks the checklist in the widget", async ({ browser, startCollector }) => {
  const c = await startCollector((dir) => {
    const file = join(dir, "checklists.json");
    writeFileSync(file, JSON.stringify({
      segments: [{ id: "big_account", when: { "account.seats": { ">=": 100 } }, checklist: "enterprise" }, { id: "everyone", checklist: "basics" }],
      checklists: [
        { id: "enterprise", title: "Enterprise rollout", items: [{ id: "sso", title: "Set up single sign-on", complete_when: "manual" }] },
        { id: "basics", title: "The basics", items: [{ id: "project", title: "Create a project", complete_when: { event: "created_project" } }] },
      ],
    }));
    return ["--checklists", file];
  });
  // The demo app groups its user with seats = team_size.
  for (const [seats, title] of [[150, "Enterprise rollout"], [4, "The basics"]] as const) {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${c.url}/?autoshow=0&user=u${seats}&team_size=${seats}&account=acct${seats}`);
    await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
    await page.getByRole("button", { name: /Get started/ }).click();
    await expect(page.getByRole("region", { name: /./ }).getByRole("heading")).toHaveText(title);
  }
  // The collector's replay chooses the same from the stored group events.
  const state = async (user: string) =>
    (await (await fetch(`${c.url}/v1/checklists/state?key=pk_demo&user_id=${user}`)).json()).segment;
  await expect.poll(() => state("u150")).toBe("big_account");
  expect(await state("u4")).toBe("everyone");
});
