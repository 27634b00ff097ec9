// Closing the loop in Chromium against the real collector: a detractor with a comment →
// a Slack message at a local receiver and a case for the account's owner; a reply from the
// dashboard → an email at an SMTP server the test runs, and on the case's timeline;
// solving the case → "How did we do?" on the user's next page load, its answer on the case.
import { test, expect, readApi, root } from "./collector-extra";
import { openDemo, card } from "./collector";
import { createServer } from "node:http";
import { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { smtpServer, textOf } from "./smtp";

async function slackReceiver() {
  const bodies: any[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      bodies.push(JSON.parse(body));
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T0/B0/X`;
  return { url, bodies, close: () => new Promise((ok) => server.close(ok)) };
}

test("detractor → Slack + owner's case; dashboard reply → SMTP email on the timeline; solved → CSAT on next load", async ({ page, startCollector }) => {
  const slack = await slackReceiver();
  const smtp = await smtpServer();
  const c = await startCollector((dir: string) => {
    const automations = join(dir, "cases-automations.json");
    writeFileSync(automations, JSON.stringify({
      email: { from: "Acme Success <success@acme.example>", templates_dir: join(dir, "templates"),
               smtp: { host: "127.0.0.1", port: smtp.port, tls: "none" } },
      webhooks: { first_retry_ms: 200, max_retry_ms: 1000, max_attempts: 5, timeout_ms: 3000 },
      // Long: the rule must see the whole response, which its completion makes due at once (a short quiet
      // time can run out between the score and the comment on a busy machine).
      response_settle_ms: 60_000,
      dashboard_url: "http://127.0.0.1/dashboard",
      rules: [{ id: "detractor", when: { score: { survey: "nps", min: 0, max: 6 } },
                do: [{ action: "slack", url: slack.url }, { action: "case", title: "Detractor: reply personally" }] }],
    }));
    const targeting = join(dir, "cases-targeting.json");
    writeFileSync(targeting, JSON.stringify({
      surveys: [{ id: "case_csat", recontact_days: 14, targeting: { event: { name: "case_solved", count: 1 } } }],
    }));
    return ["--automations", automations, "--targeting", targeting];
  });

  // Dana of Acme (owned by Olivia) answers 3 and writes why.
  await openDemo(page, c);
  await page.evaluate(() => {
    const T = (window as any).Touchpoint;
    T.identify("user_42", { email: "dana@example.com" });
    T.group("acme", { name: "Acme Corp", owner: "olivia@acme.example" });
  });
  await page.getByRole("button", { name: "Give feedback" }).click();
  await card(page).getByRole("button", { name: /^3 out of 10/ }).click();
  await card(page).getByRole("button", { name: "Something else" }).click();
  await card(page).getByLabel("Tell us what got in the way.").fill("export is too slow");
  await card(page).getByRole("button", { name: "Send" }).click();
  await expect(card(page).getByRole("heading", { name: "Thank you for being honest" })).toBeVisible();

  await expect.poll(() => slack.bodies.length, { timeout: 15_000 }).toBe(1);
  const message = JSON.stringify(slack.bodies[0]);
  expect(message).toContain("> export is too slow");
  expect(message).toContain("Acme Corp (acme)");
  expect(slack.bodies[0].text).toBe("NPS 3 from Dana Rivera (user_42) (Acme Corp (acme)): export is too slow");
  const { cases } = await readApi(c, "/v1/cases?status=open");
  expect(cases).toHaveLength(1);
  expect(cases[0]).toMatchObject({ user_id: "user_42", assignee: "olivia@acme.example", status: "open" });
  const id = cases[0].id;
  expect(message).toContain(`http://127.0.0.1/dashboard#case=${id}`);

  // The dashboard, opened from Slack's link: reply, then solve.
  const dash = await page.context().newPage();
  await dash.goto(`${c.url}/dashboard#case=${id}`);
  await dash.getByLabel("Secret key").fill(c.secret);
  await dash.getByRole("button", { name: "Open the dashboard" }).click();
  const detail = dash.locator("#case-detail");
  await expect(detail.getByRole("heading", { name: "Detractor: reply personally" })).toBeVisible();
  await expect(dash.locator("#cases-list")).toContainText("olivia@acme.example");
  const reply = "Hi Dana, exports are 5x faster since this morning. Could you try again?";
  await detail.getByLabel("Reply or note").fill(reply);
  await detail.getByRole("button", { name: "Send reply" }).click();
  await expect(detail.getByRole("list", { name: "Timeline" })).toContainText(`replied by email — ${reply}`);
  await expect.poll(() => smtp.mails.length, { timeout: 15_000 }).toBe(1);
  expect(smtp.mails[0].to).toEqual(["dana@example.com"]);
  expect(textOf(smtp.mails[0])).toContain(reply);

  await detail.getByLabel("Tags").fill("export_speed");
  await detail.getByLabel("Status").selectOption("solved");
  await detail.getByRole("button", { name: "Save changes" }).click();
  await expect(detail.getByRole("list", { name: "Timeline" })).toContainText("status → solved");
  await expect(dash.locator("#cases-roadblocks")).toContainText("export_speed");
  await expect(dash.locator("#cases-timings")).toContainText("Median first response");

  // Dana's next visit: "How did we do?" — through the targeting budget — and her answer lands on the case.
  await page.reload();
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await expect(card(page).getByText("We solved your request. How did we do?")).toBeVisible({ timeout: 15_000 });
  await card(page).getByRole("button", { name: /^4 out of 5/ }).click();
  await expect.poll(async () => (await readApi(c, `/v1/cases/${id}`)).csat, { timeout: 15_000 }).toBe(4);
  await dash.reload();
  await expect(dash.locator("#case-detail")).toContainText("CSAT 4/5");
  await slack.close();
  await smtp.close();
});

test("'Not ready to upgrade' → the trial extension over SMTP in the user's locale, once, though the server refuses twice", async ({ page, startCollector }) => {
  const smtp = await smtpServer(2);
  const c = await startCollector((dir: string) => {
    const file = join(dir, "smtp-automations.json");
    const demo = JSON.parse(readFileSync(join(root, "automations.json"), "utf8"));
    writeFileSync(file, JSON.stringify({
      email: { from: "Acme Success <success@acme.example>", templates_dir: join(root, "templates"),
               smtp: { host: "127.0.0.1", port: smtp.port, tls: "none" } },
      webhooks: { first_retry_ms: 200, max_retry_ms: 1000, max_attempts: 5, timeout_ms: 3000 },
      // Long: the rule must see the whole response, which its completion makes due at once (a short quiet
      // time can run out between the score and the comment on a busy machine).
      response_settle_ms: 60_000,
      rules: demo.rules.filter((r: any) => r.id === "trial_extension"),
    }));
    return ["--automations", file];
  });
  await openDemo(page, c);
  await page.evaluate(() => (window as any).Touchpoint.identify("user_42", { email: "dana@example.com", locale: "de-DE" }));
  await page.getByRole("button", { name: "Give feedback" }).click();
  await card(page).getByRole("button", { name: /^3 out of 10/ }).click();
  await card(page).getByRole("button", { name: "Not ready to upgrade" }).click();
  await expect(card(page).getByRole("heading", { name: "Two more weeks, on us" })).toBeVisible();

  await expect.poll(() => smtp.mails.length, { timeout: 15_000 }).toBe(1);
  await page.waitForTimeout(1500);
  expect(smtp.mails).toHaveLength(1);
  const mail = smtp.mails[0];
  expect(mail.to).toEqual(["dana@example.com"]);
  expect(mail.data).toContain("Subject: Zwei Wochen mehr Acme Projects, von uns\r\n");
  expect(mail.data).toContain("Content-Language: de\r\n");
  expect(mail.data).toContain("List-Unsubscribe: <mailto:success@acme.example?subject=unsubscribe>\r\n");
  expect(textOf(mail)).toContain("Hallo Dana Rivera,");
  const { deliveries } = await readApi(c, "/v1/automations/deliveries");
  expect(deliveries).toHaveLength(1);
  expect(deliveries[0]).toMatchObject({ kind: "email", status: "delivered", attempts: 3 });
  expect(deliveries[0].log.map((a: any) => a.status_code)).toEqual([451, 451, 250]);
  await smtp.close();
});
