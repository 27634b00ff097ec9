// A host page whose CSS is openly hostile must neither break the widget nor be changed by it.
import { test, expect, openDemo, card, artifacts, anonymousId } from "./collector";

const HOSTILE = `
  * { all: unset !important; }
  button { display: none !important; }
  div { display: none !important; }
  touchpoint-widget { display: none !important; position: static !important; }
  html, body { font-size: 40px !important; color: red !important; line-height: 5 !important; }
`;

test("a hostile host stylesheet does not break the widget", async ({ page, collector }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.addInitScript((css) => {
    document.addEventListener("DOMContentLoaded", () => {
      const s = document.createElement("style");
      s.textContent = css;
      document.head.append(s);
    });
  }, HOSTILE);
  await openDemo(page, collector);
  const anon = await anonymousId(page);
  // The host's own buttons really are gone: the stylesheet is in force.
  await expect(page.getByRole("button", { name: "New project" })).toBeHidden();

  expect(await page.evaluate(() => (window as any).Touchpoint.showSurvey("nps"))).toBe(true);
  await expect(card(page)).toBeVisible();
  const box = (await card(page).boundingBox())!;
  expect(box.width).toBeGreaterThan(300);
  expect(box.width).toBeLessThanOrEqual(400);
  expect(box.x + box.width).toBeGreaterThan(1280 - 40);
  expect(box.y + box.height).toBeGreaterThan(800 - 40);
  // Our type scale, not the host's 40px.
  const fontSize = await card(page).evaluate((el) => getComputedStyle(el).fontSize);
  expect(fontSize).toBe("14px");
  await page.screenshot({ path: `${artifacts}/hostile-host.png` });

  const three = card(page).getByRole("button", { name: "3 out of 10" });
  await expect(three).toBeVisible();
  await three.click();
  await card(page).getByRole("button", { name: "Not ready to upgrade" }).click();
  await expect(card(page).getByRole("heading", { name: "Two more weeks, on us" })).toBeVisible();
  const evs = await collector.eventsUntil({ anonymous_id: anon }, (e) => e.some((x) => x.type === "survey_completed"));
  expect(evs.at(-1)).toMatchObject({ ending_id: "trial_offer" });
});

test("the widget's styles do not leak into the host page", async ({ page, collector }) => {
  await openDemo(page, collector);
  const probe = () =>
    page.evaluate(() => {
      const pick = (el: Element) => {
        const s = getComputedStyle(el);
        return [s.fontFamily, s.fontSize, s.color, s.backgroundColor, s.borderRadius, s.padding, s.outlineStyle].join("|");
      };
      return [pick(document.body), pick(document.querySelector("button.primary")!), pick(document.querySelector("h1")!),
              pick(document.querySelector("fieldset") ?? document.body)];
    });
  const before = await probe();
  await page.getByRole("button", { name: "Give feedback" }).click();
  await expect(card(page)).toBeVisible();
  expect(await probe()).toEqual(before);
  // Our class names exist only inside the shadow root.
  expect(await page.evaluate(() => document.querySelectorAll(".tp-card, .tp-score, style").length)).toBe(0);
});
