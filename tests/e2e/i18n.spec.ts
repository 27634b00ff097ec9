// Language and direction: the browser's language picks the strings, config can add a
// locale, and right-to-left locales lay the widgets out mirrored.
import { test, expect, artifacts } from "./collector";

test("the browser's language picks the built-in German strings", async ({ browser, collector }) => {
  const ctx = await browser.newContext({ locale: "de-AT" });
  const page = await ctx.newPage();
  await page.goto(`${collector.url}/?autoshow=0`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await expect(page.getByRole("button", { name: "Hilfe", exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: /Erste Schritte/ })).toContainText("0/4");
  await page.evaluate(() => (window as any).Touchpoint.showSurvey("nps"));
  await expect(page.getByRole("dialog").getByRole("button", { name: "Umfrage schließen" })).toBeVisible();
  await expect(page.getByRole("dialog").getByRole("button", { name: /^3 von 10$/ })).toBeVisible();
  // The survey's own texts, given per locale in surveys/nps.json, follow too.
  await expect(page.getByRole("dialog")).toContainText("Wie wahrscheinlich ist es, dass Sie Acme Projects");
  await expect(page.getByRole("dialog")).toContainText("Sehr unwahrscheinlich");
  await page.getByRole("dialog").getByRole("button", { name: /^3 von 10$/ }).click();
  await expect(page.getByRole("dialog").getByRole("button", { name: "Noch nicht bereit für ein Upgrade" })).toBeVisible();
  const lang = await page.evaluate(() => document.querySelector('touchpoint-widget[data-touchpoint="survey"]')!.shadowRoot!.querySelector(".tp-root")!.getAttribute("lang"));
  expect(lang).toBe("de"); // de-AT resolves to the German strings we have
});

test("a configured right-to-left locale renders mirrored, with its strings, and passes axe", async ({ page, collector }) => {
  const { default: AxeBuilder } = await import("@axe-core/playwright");
  await page.setViewportSize({ width: 1280, height: 800 });
  const messages = {
    ar: {
      "survey.close_label": "إغلاق الاستبيان",
      "survey.score_label": "{n} من {max}",
      "survey.back": "→ رجوع",
      "help.launcher": "مساعدة",
      "help.title": "مساعدة",
      "help.search": "ابحث في المساعدة",
      "checklist.get_started": "ابدأ",
    },
  };
  // The demo page with its script tag configured for Arabic (as a host would with data-locale / data-messages).
  await page.route(`${collector.url}/`, async (route) => {
    const res = await route.fetch();
    const html = (await res.text()).replace(
      'data-key="pk_demo"',
      `data-key="pk_demo" data-locale="ar" data-messages='${JSON.stringify(messages)}'`,
    );
    await route.fulfill({ response: res, body: html });
  });
  await page.goto(`${collector.url}/`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await page.evaluate(() => (window as any).Touchpoint.showSurvey("nps"));
  const card = page.getByRole("dialog");
  await expect(card.getByRole("button", { name: "إغلاق الاستبيان" })).toBeVisible();
  const dir = await card.evaluate((el) => getComputedStyle(el).direction);
  expect(dir).toBe("rtl");
  // Mirrored: the close button sits at the card's left edge, score 0 at the right.
  const cardBox = (await card.boundingBox())!;
  const close = (await card.getByRole("button", { name: "إغلاق الاستبيان" }).boundingBox())!;
  expect(close.x - cardBox.x).toBeLessThan(40);
  const zero = (await card.getByRole("button", { name: /^0 من 10/ }).boundingBox())!;
  const ten = (await card.getByRole("button", { name: /^10 من 10/ }).boundingBox())!;
  expect(zero.x).toBeGreaterThan(ten.x);
  await expect(page.getByRole("button", { name: "مساعدة", exact: true })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/rtl-arabic.png` });
  const scan = await new AxeBuilder({ page }).include("touchpoint-widget").analyze();
  expect(scan.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
});

test("a misspelt message key is a console error naming it", async ({ page, collector }) => {
  const errors: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.route(`${collector.url}/`, async (route) => {
    const res = await route.fetch();
    const html = (await res.text()).replace('data-key="pk_demo"', `data-key="pk_demo" data-messages='{"fr":{"survey.sned":"Envoyer"}}'`);
    await route.fulfill({ response: res, body: html });
  });
  await page.goto(`${collector.url}/`);
  await expect.poll(() => errors.join("\n")).toContain("messages.fr.survey.sned: unknown message key");
});
