// State belongs to a person: a second identify() in the same page (a login, an account switch)
// switches the checklist and targeting to that person's own state at once, and never folds one
// person's behaviors into another's — live, after a reload, and in what the collector says.
import type { Page } from "@playwright/test";
import { test, expect, Collector } from "./collector";

// The demo's small-team checklist (checklists.json, segment small_team): four items, of which
// created_project and imported_data (rows >= 1) complete one each.
const launcher = (page: Page) => page.getByRole("button", { name: /Get started/ });
const panel = (page: Page) => page.getByRole("region", { name: /./ });

async function openAs(page: Page, c: Collector, user: string) {
  await page.goto(`${c.url}/?autoshow=0&user=${user}&team_size=3`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

const tp = (page: Page, f: string) => page.evaluate(f);

/** The collector's checklist progress for `user`: the items done. */
async function doneFor(c: Collector, user: string): Promise<string[]> {
  const res = await fetch(`${c.url}/v1/checklists/state?key=pk_demo&user_id=${user}`);
  expect(res.status).toBe(200);
  return Object.keys((await res.json()).progress.completed).sort();
}

/** This browser's copy of `user`'s progress (what paints instantly on the next load). */
async function localDone(page: Page, user: string): Promise<string[]> {
  const copy = await page.evaluate((u) => localStorage.getItem(`touchpoint:pk_demo:checklist:get_started:${u}`), user);
  return copy ? Object.keys(JSON.parse(copy).completed).sort() : [];
}

test("identify('bob') after identify('ann') shows bob's checklist live, and ann keeps only her own progress", async ({ page, collector, consoleErrors }) => {
  // A slow network: ann's progress is still on its way when bob logs in (it answers 1.5 s late).
  let slowed = false;
  await page.route("**/v1/checklists/state?*", async (route) => {
    if (!slowed && route.request().url().includes("user_id=ann")) {
      slowed = true;
      await new Promise((r) => setTimeout(r, 1500));
    }
    await route.continue();
  });
  await openAs(page, collector, "ann");
  await expect.poll(() => slowed).toBe(true); // ann's progress is on its way
  await tp(page, `Touchpoint.track("created_project"); Touchpoint.track("imported_data", { rows: 3 })`);

  // Another person logs in on the same page, without reset().
  await tp(page, `Touchpoint.identify("bob", { team_size: 3 })`);
  await tp(page, `Touchpoint.track("created_project")`);
  await expect(launcher(page)).toContainText("1/4");
  await launcher(page).click();
  await expect(panel(page)).toContainText("1 of 4 done");
  // …and it stays bob's when ann's late answer arrives.
  await page.waitForTimeout(2000);
  await expect(panel(page)).toContainText("1 of 4 done");
  await expect(launcher(page)).toContainText("1/4");

  // The collector agrees, person by person.
  await expect.poll(() => doneFor(collector, "bob")).toEqual(["create_project"]);
  expect(await doneFor(collector, "ann")).toEqual(["create_project", "import_data"]);

  // Ann again, after a reload: her two, none of bob's.
  await openAs(page, collector, "ann");
  await expect(launcher(page)).toContainText("2/4");
  await page.waitForTimeout(1000);
  await expect(launcher(page)).toContainText("2/4");
  expect(await localDone(page, "ann")).toEqual(["create_project", "import_data"]);
  expect(await localDone(page, "bob")).toEqual(["create_project"]);
  // Bob's events carry bob, and none of ann's behaviors were sent as his.
  const tracks = await collector.eventsUntil({ type: "track" }, (e) => e.length === 3);
  expect(tracks.map((e) => [e.user_id, e.name])).toEqual([
    ["ann", "created_project"],
    ["ann", "imported_data"],
    ["bob", "created_project"],
  ]);
  expect(consoleErrors).toEqual([]);
});

test("switching person once each checklist has loaded: live, and nothing crosses over", async ({ page, collector }) => {
  await openAs(page, collector, "ann");
  await expect(launcher(page)).toContainText("0/4");
  await tp(page, `Touchpoint.track("created_project"); Touchpoint.track("imported_data", { rows: 3 })`);
  await expect(launcher(page)).toContainText("2/4");
  await tp(page, `Touchpoint.identify("bob", { team_size: 3 }); Touchpoint.track("created_project")`);
  await expect(launcher(page)).toContainText("1/4");
  await tp(page, `Touchpoint.identify("ann")`);
  await expect(launcher(page)).toContainText("2/4");
  expect(await localDone(page, "ann")).toEqual(["create_project", "import_data"]);
  expect(await localDone(page, "bob")).toEqual(["create_project"]);
});

test("a person switch in the calls made before the widget ran is applied in order", async ({ page, collector, consoleErrors }) => {
  // All of it queued by the stub before the widget's code runs: ann's two behaviors, then bob's one.
  await page.addInitScript(() => {
    document.addEventListener("DOMContentLoaded", () => {
      const T = (window as any).Touchpoint;
      T.track("created_project");
      T.track("imported_data", { rows: 3 });
      T.identify("bob", { team_size: 3 });
      T.track("created_project");
    });
  });
  await openAs(page, collector, "ann"); // the demo app identifies ann first (deferred script, before DOMContentLoaded)
  await expect(launcher(page)).toContainText("1/4");
  await page.waitForTimeout(1000);
  await expect(launcher(page)).toContainText("1/4");
  expect(await localDone(page, "bob")).toEqual(["create_project"]);
  expect(await localDone(page, "ann")).toEqual([]);
  await expect.poll(() => doneFor(collector, "ann")).toEqual(["create_project", "import_data"]);
  await expect.poll(() => doneFor(collector, "bob")).toEqual(["create_project"]);
  expect(consoleErrors).toEqual([]);
});

test("targeting facts are kept per person: bob's behaviors are not counted for ann", async ({ page, collector }) => {
  await openAs(page, collector, "ann");
  await expect(launcher(page)).toContainText("0/4");
  await tp(page, `Touchpoint.track("created_project")`);
  // In one task: the switch and bob's first behaviors.
  await tp(page, `Touchpoint.identify("bob", { team_size: 3 }); for (let i = 0; i < 3; i++) Touchpoint.track("created_project")`);
  const facts = (u: string) =>
    page.evaluate((u) => JSON.parse(localStorage.getItem(`touchpoint:pk_demo:facts:${u}`) ?? "{}").event_counts ?? {}, u);
  await expect.poll(() => facts("bob")).toMatchObject({ created_project: 3 });
  expect(await facts("ann")).toMatchObject({ created_project: 1 });
});
