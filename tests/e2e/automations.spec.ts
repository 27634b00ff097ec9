// Automations end to end: the widget in Chromium → the real collector started with
// the repository's automations.json → a signed webhook at a test receiver on
// 127.0.0.1, a case, and an email in the outbox folder.
import { test, expect, readApi, root, Collector } from "./collector-extra";
import { openDemo, card } from "./collector";
import type { Page } from "@playwright/test";
import { createServer, IncomingHttpHeaders } from "node:http";
import { AddressInfo } from "node:net";
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Hit = { at: number; headers: IncomingHttpHeaders; body: string; status: number };

/** A webhook receiver on 127.0.0.1; `answer` picks each reply's status from the request. */
async function receiver(answer: (headers: IncomingHttpHeaders, hits: Hit[]) => number = () => 200) {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const status = answer(req.headers, hits);
      hits.push({ at: Date.now(), headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/touchpoint`;
  return { url, hits, close: () => new Promise((ok) => server.close(ok)) };
}

const DEMO = JSON.parse(readFileSync(join(root, "automations.json"), "utf8"));
const SECRET: string = DEMO.projects.pk_demo.webhook_secret;

/** The repository's rules, sending webhooks to `url`, with retries fast enough for a test. */
function automationsFile(dir: string, url: string): string {
  const config = JSON.parse(JSON.stringify(DEMO).replaceAll("http://127.0.0.1:8788/touchpoint", url));
  config.email.templates_dir = join(root, "templates");
  config.webhooks = { ...config.webhooks, first_retry_ms: 200, timeout_ms: 3000 };
  // Answer rules act on a response's final answers: when it closes, or after this quiet time. These tests
  // check the detractor webhook while the card still waits at the next question, so the quiet time is short.
  config.response_settle_ms = 500;
  const file = join(dir, "automations.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
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

async function startWithAutomations(startCollector: any, url: string): Promise<Collector> {
  return startCollector((dir: string) => ["--automations", automationsFile(dir, url), "--email-outbox", join(dir, "outbox")]);
}

async function detractorAnswer(page: Page, c: Collector) {
  await openDemo(page, c);
  // The demo app identifies Dana without an email address; the host adds one.
  await page.evaluate(() => (window as any).Touchpoint.identify("user_42", { email: "dana@example.com" }));
  await page.getByRole("button", { name: "Give feedback" }).click();
  await card(page).getByRole("button", { name: /^3 out of 10/ }).click();
  await expect(card(page).getByText("What got in the way?")).toBeVisible();
}

const ofRule = (hits: Hit[], rule: string) => hits.filter((h) => h.headers["x-touchpoint-rule"] === rule);

test("a detractor answer → a signed webhook and a case; 'Not ready to upgrade' → a trial-extension email", async ({ page, startCollector }) => {
  const hook = await receiver();
  const c = await startWithAutomations(startCollector, hook.url);
  await detractorAnswer(page, c);

  await expect.poll(() => ofRule(hook.hits, "detractor_follow_up").length).toBe(1);
  const hit = ofRule(hook.hits, "detractor_follow_up")[0];
  expect(signatureValid(hit)).toBe(true);
  expect(signatureValid({ ...hit, body: hit.body.replace('"value":3', '"value":9') })).toBe(false);
  const payload = JSON.parse(hit.body);
  expect(payload).toMatchObject({
    rule: "detractor_follow_up",
    project: "pk_demo",
    trigger: "event",
    event: { type: "survey_answered", survey_id: "nps", question_id: "score", value: 3, user_id: "user_42" },
    user: { user_id: "user_42", traits: { name: "Dana Rivera", plan: "trial", email: "dana@example.com" } },
  });
  expect(hit.headers["x-touchpoint-delivery"]).toBe(payload.delivery_id);

  const { cases } = await readApi(c, "/v1/cases?status=open");
  expect(cases).toHaveLength(1);
  expect(cases[0]).toMatchObject({
    rule: "detractor_follow_up",
    title: "Detractor: reply personally within a day",
    user_id: "user_42",
    trigger_id: payload.event.id,
    detail: { event: { value: 3 } },
  });

  await card(page).getByRole("button", { name: "Not ready to upgrade" }).click();
  await expect(card(page).getByRole("heading", { name: "Two more weeks, on us" })).toBeVisible();
  const outbox = join(c.dir, "outbox");
  await expect.poll(() => readdirSync(outbox).filter((f) => f.endsWith(".eml")).length).toBe(1);
  const [file] = readdirSync(outbox).filter((f) => f.endsWith(".eml"));
  const email = readFileSync(join(outbox, file), "utf8");
  expect(email).toContain("To: dana@example.com\r\n");
  expect(email).toContain("Subject: Two more weeks of Acme Projects, on us\r\n");
  expect(email).toContain("X-Touchpoint-Rule: trial_extension\r\n");
  expect(email).toContain("Hi Dana Rivera,\r\n");
  expect(email).toContain("(offer trial_extension_14d)");
  const { deliveries } = await readApi(c, "/v1/automations/deliveries");
  const mail = deliveries.find((d: any) => d.kind === "email");
  expect(mail).toMatchObject({ rule: "trial_extension", status: "delivered", target: "dana@example.com" });
  expect(file).toBe(`${mail.id}.eml`);
  // The ending also asked for a webhook ({"action": "webhook"}): that rule ran too, signed the same way.
  await expect.poll(() => ofRule(hook.hits, "survey_ending_webhook").length).toBe(1);
  const ending = ofRule(hook.hits, "survey_ending_webhook")[0];
  expect(signatureValid(ending)).toBe(true);
  expect(JSON.parse(ending.body).event).toMatchObject({ type: "survey_completed", ending_id: "trial_offer" });
  // Exactly once: nothing more arrives, one case, one email.
  await page.waitForTimeout(1000);
  expect(hook.hits).toHaveLength(2);
  expect((await readApi(c, "/v1/cases?status=all")).cases).toHaveLength(1);
  expect(readdirSync(outbox).filter((f) => f.endsWith(".eml"))).toHaveLength(1);
  await hook.close();
});

test("the receiver failing three times → the webhook is delivered exactly once, on the fourth try", async ({ page, startCollector }) => {
  // 500 for the first three requests of the detractor rule, then 200.
  const hook = await receiver((headers, hits) =>
    headers["x-touchpoint-rule"] === "detractor_follow_up" && ofRule(hits, "detractor_follow_up").length < 3 ? 500 : 200);
  const c = await startWithAutomations(startCollector, hook.url);
  await detractorAnswer(page, c);

  const delivered = async () => {
    const { deliveries } = await readApi(c, "/v1/automations/deliveries");
    return deliveries.find((d: any) => d.rule === "detractor_follow_up");
  };
  await expect.poll(async () => (await delivered())?.status, { timeout: 15_000 }).toBe("delivered");
  const d = await delivered();
  expect(d.attempts).toBe(4);
  expect(d.log.map((a: any) => a.status_code)).toEqual([500, 500, 500, 200]);
  expect(d.log.map((a: any) => a.error)).toEqual([
    "the receiver answered HTTP 500", "the receiver answered HTTP 500", "the receiver answered HTTP 500", null,
  ]);

  const hits = ofRule(hook.hits, "detractor_follow_up");
  expect(hits.map((h) => h.status)).toEqual([500, 500, 500, 200]);
  expect(hits.map((h) => h.headers["x-touchpoint-attempt"])).toEqual(["1", "2", "3", "4"]);
  // One delivery, the same body each time, each attempt signed at its own time; only one was accepted.
  expect(new Set(hits.map((h) => h.headers["x-touchpoint-delivery"])).size).toBe(1);
  expect(new Set(hits.map((h) => h.body)).size).toBe(1);
  expect(hits.every(signatureValid)).toBe(true);
  // Exponential backoff from 200 ms: at least 200, 400, 800 ms between tries.
  const gaps = hits.slice(1).map((h, i) => h.at - hits[i].at);
  gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual((200 << i) - 20));
  await page.waitForTimeout(1500);
  expect(ofRule(hook.hits, "detractor_follow_up")).toHaveLength(4);
  expect(hits.filter((h) => h.status === 200)).toHaveLength(1);
  expect((await readApi(c, "/v1/cases?status=all")).cases).toHaveLength(1);
  await hook.close();
});
