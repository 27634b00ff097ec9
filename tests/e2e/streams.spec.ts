// Event streams end to end: a user answers the NPS survey and completes two checklist items in the
// demo (real Chromium, real widget) → the real collector started with an automations file that
// declares a stream → a receiver started by this test (Node http on 127.0.0.1) gets every one of
// that person's stored events exactly once, in order, in signed batches; the dashboard shows the
// stream caught up. The receiver refuses the first batch, so the retry path is part of the run.
import { test, expect, readApi, root, Collector } from "./collector-extra";
import { openDemo, anonymousId, card, artifacts } from "./collector";
import { createServer, IncomingHttpHeaders } from "node:http";
import { AddressInfo } from "node:net";
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Batch = { status: number; headers: IncomingHttpHeaders; body: string };
type Forwarded = { id: string; received_at: number; source: string; event: { type: string; ts: number; anonymous_id: string; [k: string]: unknown } };

const SECRET: string = JSON.parse(readFileSync(join(root, "automations.json"), "utf8")).projects.pk_demo.webhook_secret;

/** A stream receiver: answers 503 to the first `failFirst` batches, then 200; records every batch. */
async function receiver(failFirst: number) {
  const batches: Batch[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const status = batches.length < failFirst ? 503 : 200;
      batches.push({ status, headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream`;
  const acknowledged = (): Forwarded[] => batches.filter((b) => b.status === 200).flatMap((b) => JSON.parse(b.body).events);
  return { url, batches, acknowledged, close: () => new Promise((ok) => server.close(ok)) };
}

/** Only a stream of every event type, quick to settle and to retry. */
function automationsFile(dir: string, url: string): string {
  const file = join(dir, "automations.json");
  writeFileSync(file, JSON.stringify({
    projects: { pk_demo: { webhook_secret: SECRET } },
    streams: [{ id: "warehouse", url, types: ["*"], settle_ms: 300, first_retry_ms: 200, max_retry_ms: 1000, timeout_ms: 3000 }],
  }));
  return file;
}

/** `X-Touchpoint-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>`, as a receiver checks it. */
function signed(b: Batch): boolean {
  const f = Object.fromEntries(String(b.headers["x-touchpoint-signature"] ?? "").split(",").map((p) => p.split("=", 2)));
  const t = Number(f.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  return f.v1 === createHmac("sha256", SECRET).update(`${t}.${b.body}`).digest("hex");
}

test("the NPS answers and two checklist items reach the host's stream receiver exactly once, in order", async ({ page, startCollector, consoleErrors }) => {
  const hook = await receiver(1);
  const c: Collector = await startCollector((dir) => ["--automations", automationsFile(dir, hook.url)]);

  await openDemo(page, c);
  const anon = await anonymousId(page);
  await page.getByRole("button", { name: "Give feedback" }).click();
  await card(page).getByRole("button", { name: /^3 out of 10/ }).click();
  await card(page).getByRole("button", { name: "Not ready to upgrade" }).click();
  await expect(card(page).getByRole("heading", { name: "Two more weeks, on us" })).toBeVisible();

  await page.getByRole("button", { name: /Get started/ }).click();
  const panel = page.getByRole("region", { name: /./ });
  await page.getByRole("button", { name: "New project" }).click();
  await expect(panel).toContainText("1 of 4 done");
  await page.getByRole("button", { name: "Import CSV" }).click();
  await expect(panel).toContainText("2 of 4 done");

  // Everything the collector stored for this person, once the page's queue has drained.
  const stored = await c.eventsUntil({ anonymous_id: anon }, (e) =>
    e.some((x) => x.type === "survey_completed") && e.filter((x) => x.type === "checklist_item_completed").length === 2);
  await expect.poll(() => hook.acknowledged().filter((f) => f.event.anonymous_id === anon).length, { timeout: 15_000 })
    .toBeGreaterThanOrEqual(stored.length);
  await page.waitForTimeout(1000); // nothing more arrives
  const forwarded = hook.acknowledged().filter((f) => f.event.anonymous_id === anon);

  // Exactly once by id: every stored event, and nothing else.
  const ids = forwarded.map((f) => f.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual(stored.map((e) => e.id).sort());
  for (const f of forwarded) expect(f.event.id).toBe(f.id);

  // In order: the survey's steps, then the two items, as they happened.
  const types = forwarded.map((f) => f.event.type);
  const survey = types.filter((t) => t.startsWith("survey_"));
  expect(survey).toEqual(["survey_shown", "survey_answered", "survey_answered", "survey_completed"]);
  const answers = forwarded.filter((f) => f.event.type === "survey_answered").map((f) => f.event.question_id);
  expect(answers).toEqual(["score", "obstacle"]);
  const items = forwarded.filter((f) => f.event.type === "checklist_item_completed").map((f) => f.event.item_id);
  expect(items).toEqual(["create_project", "import_data"]);
  expect(types.indexOf("survey_completed")).toBeLessThan(types.indexOf("checklist_item_completed"));

  // Signed like the webhooks; the refused first batch was sent again with the same events.
  expect(hook.batches.every(signed)).toBe(true);
  expect(hook.batches[0].status).toBe(503);
  const firstIds = JSON.parse(hook.batches[0].body).events.map((f: Forwarded) => f.id);
  expect(JSON.parse(hook.batches[1].body).events.map((f: Forwarded) => f.id).slice(0, firstIds.length)).toEqual(firstIds);
  expect(hook.batches[1].headers["x-touchpoint-stream"]).toBe("warehouse");

  // The dashboard: caught up, and the refusal on show.
  const { streams } = await readApi(c, "/v1/streams");
  expect(streams).toEqual([expect.objectContaining({ id: "warehouse", behind: 0, attempts: 0, last_error: "the receiver answered HTTP 503" })]);
  await page.goto(`${c.url}/dashboard`);
  await page.getByLabel("Secret key").fill("sk_demo");
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  const section = page.getByRole("region", { name: "Event streams" });
  const row = section.getByRole("row", { name: /warehouse/ });
  await expect(row.getByRole("cell").nth(3)).toHaveText("0");
  await expect(row.getByRole("cell").nth(5)).toHaveText("ok");
  await expect(row.getByRole("cell").nth(6)).toContainText("the receiver answered HTTP 503");
  await section.screenshot({ path: `${artifacts}/dashboard-streams.png` });
  expect(consoleErrors).toEqual([]);
  await hook.close();
});
