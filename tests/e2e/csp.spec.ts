// The widget under a strict Content-Security-Policy: no 'unsafe-inline', no 'unsafe-eval'.
import { expect, artifacts } from "./collector";
import { FaultProxy, test } from "./faultproxy";


test("survey, checklist and help work under a strict CSP, with no violation", async ({ page, fp, collector, consoleErrors }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${fp.url}/fixture/csp.html`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  // The policy is really in force: the page's own eval was refused.
  expect(await page.evaluate(() => (window as any).evalAllowed)).toBe(false);

  expect(await page.evaluate(() => (window as any).Touchpoint.showSurvey("nps"))).toBe(true);
  const card = page.getByRole("dialog");
  await card.getByRole("button", { name: /^9 out of 10/ }).click();
  await expect(card.getByText("Would you help others find us?")).toBeVisible();
  // Styles apply (adopted stylesheet) and the theme's accent reached the widget.
  const pressedColour = await card.getByRole("button", { name: "Not right now" }).evaluate((el) => getComputedStyle(el).borderRadius);
  expect(pressedColour).toBe("8px");
  const accent = await page.evaluate(() => getComputedStyle(document.querySelector('touchpoint-widget[data-touchpoint="survey"]')!).getPropertyValue("--tp-accent"));
  expect(accent.trim()).toBe("#0f766e");

  await page.getByRole("button", { name: "Track a behavior" }).click();
  await expect(page.getByRole("button", { name: /Get started/ })).toContainText("1/4");
  await page.getByRole("button", { name: "Help", exact: true }).click();
  await page.getByRole("searchbox", { name: "Search help" }).fill("slack");
  await page.getByRole("region", { name: "Help" }).getByRole("button", { name: /Connect Slack/ }).click();
  await expect(page.getByRole("heading", { name: "Connect Slack to get project updates" })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/strict-csp.png` });

  await collector.eventsUntil({ type: "track" }, (e) => e.some((x) => x.user_id === "csp_user"));
  // The one violation is the page's own eval probe (which also shows the listener works); none is ours.
  const violations: string[] = await page.evaluate(() => (window as any).cspViolations);
  expect(violations).toEqual([expect.stringMatching(/^script-src eval .*csp-app\.js:\d+$/)]);
  expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e) && !e.includes("eval"))).toEqual([]);
});
