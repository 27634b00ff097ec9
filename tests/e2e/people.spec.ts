// The dashboard's people panel in Chromium against the real collector: export one
// person's data as a JSON download, refuse to erase without the confirmation, erase,
// and check what the collector still holds (nothing of theirs, everything of others').
import { test, expect, readApi, postEvents, Collector } from "./collector-extra";
import type { Page } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DANA = "dana-e2e-5b1c";
const EMAIL = "dana@example.org";
// A projects file's secret key must be long and random (the demo's short one is only built in).
const SECRET = "sk_people_3f9a1c7e5b2d8064af91c3e7";

let seq = 0;
const ev = (user: string | null, anon: string, kind: object) => ({
  id: `people-${seq++}`, ts: Date.now(), anonymous_id: anon, url: "https://app.example.com/",
  ...(user ? { user_id: user } : {}), ...kind,
});

async function signIn(page: Page, c: Collector) {
  await page.goto(`${c.url}/dashboard`);
  await page.getByLabel("Secret key").fill(SECRET);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
}

test("a person's data is exported and erased from the dashboard", async ({ page, startCollector, consoleErrors }) => {
  const c = await startCollector((dir) => {
    const projects = join(dir, "projects.json");
    writeFileSync(projects, JSON.stringify([{ public_key: "pk_demo", secret_key: SECRET, allowed_origins: ["*"], retention_days: 90 }]));
    return ["--projects", projects];
  });
  c.secret = SECRET;
  await postEvents(c, [
    ev(null, "b-dana", { type: "track", name: "opened_pricing", props: {} }),
    ev(DANA, "b-dana", { type: "identify", traits: { email: EMAIL, name: "Dana" } }),
    ev(DANA, "b-dana", { type: "track", name: "created_project", props: {} }),
    ev("sam-e2e", "b-sam", { type: "track", name: "created_project", props: {} }),
  ]);

  await signIn(page, c);
  await expect(page.locator("#retention")).toHaveText("Events are deleted 90 days after they arrive. 0 erasures logged.");

  await page.getByLabel("User id").fill(DANA);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export (JSON)" }).click()]);
  expect(download.suggestedFilename()).toBe(`person-${DANA}.json`);
  const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
  expect(exported.events.map((e: any) => e.event.type)).toEqual(["track", "identify", "track"]);
  expect(exported.email_addresses).toContain(EMAIL);

  // Not without the confirmation.
  await page.getByRole("button", { name: "Erase this person" }).click();
  await expect(page.locator("#person-result")).toHaveText("Tick the box to confirm: erasing cannot be undone.");
  expect((await readApi(c, `/v1/people/${DANA}/export`)).events).toHaveLength(3);

  await page.getByLabel("I understand erasing cannot be undone").check();
  const [erased] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().includes(`/v1/people/${DANA}`)),
    page.getByRole("button", { name: "Erase this person" }).click(),
  ]);
  // Her 3 events, and what ingest derived from them: 4 rows of kept targeting facts (per person and
  // browser), her browser's ownership, and 3 checklist moments (her first identify and the two traits it
  // set), which her checklist state is replayed from.
  expect((await erased.json()).erased.deleted).toEqual({ events: 3, person_facts: 4, browser_owners: 1, checklist_moments: 3 });
  await expect(page.locator("#person-result")).toHaveText(`Erased ${DANA}: 11 rows deleted, 0 rows rewritten, 0 email files deleted.`);
  await expect(page.locator("#retention")).toHaveText("Events are deleted 90 days after they arrive. 1 erasure logged.");

  expect((await readApi(c, `/v1/people/${DANA}/export`)).events).toEqual([]);
  const left = (await readApi(c, "/v1/events?limit=100")).events;
  expect(left.map((e: any) => e.user_id)).toEqual(["sam-e2e"]);
  expect(JSON.stringify(await readApi(c, "/v1/erasures"))).not.toContain(DANA);

  // Again: harmless, and says so.
  await page.getByLabel("I understand erasing cannot be undone").check();
  await page.getByRole("button", { name: "Erase this person" }).click();
  await expect(page.locator("#person-result")).toHaveText(`Nothing stored about ${DANA} (the request is logged).`);
  expect(consoleErrors).toEqual([]);
});
