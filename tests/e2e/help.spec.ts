// The help widget end to end: search (with typos), suggestions that follow SPA navigation,
// lazy video, ratings, escalation to a person with context, hostile content, offline search.
import type { Page } from "@playwright/test";
import { test, expect, openDemo, anonymousId, artifacts, goOffline, Collector } from "./collector";

const helpPanel = (page: Page) => page.getByRole("region", { name: "Help" });
const search = (page: Page) => helpPanel(page).getByRole("searchbox", { name: "Search help" });

async function openHelp(page: Page, c: Collector, path = "/") {
  await openDemo(page, c, path);
  await page.getByRole("button", { name: "Help", exact: true }).click();
  await expect(helpPanel(page)).toBeVisible();
}

const results = (page: Page) => helpPanel(page).getByRole("list", { name: "Search results" }).getByRole("button");
const suggestions = (page: Page) => helpPanel(page).getByRole("list", { name: "Suggested articles" }).getByRole("button");

test("search finds the right article, also with a typo, and reports searches", async ({ page, collector }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await openHelp(page, collector);
  const anon = await anonymousId(page);
  await search(page).fill("import csv");
  await expect(results(page).first()).toHaveText("Import projects from a CSV file");
  // Typed key by key: while typing, nothing is reported; once typing pauses, the whole query is.
  await search(page).fill("");
  await search(page).pressSequentially("improt", { delay: 40 });
  await expect(results(page).first()).toHaveText("Import projects from a CSV file");
  await collector.eventsUntil({ anonymous_id: anon, type: "help_searched" }, (e) => e.some((x) => x.query === "improt"));
  await page.screenshot({ path: `${artifacts}/help-search-typo.png` });
  await search(page).fill("slak integr");
  await expect(results(page)).toHaveText(["Connect Slack to get project updates"]);
  // A search is reported once typing pauses; one still being typed is not.
  await collector.eventsUntil({ anonymous_id: anon, type: "help_searched" }, (e) => e.some((x) => x.query === "slak integr"));
  await search(page).fill("xyzzy");
  await expect(helpPanel(page).getByRole("status")).toHaveText("No articles match “xyzzy”.");
  const searched = await collector.eventsUntil({ anonymous_id: anon, type: "help_searched" }, (e) => e.some((x) => x.query === "xyzzy"));
  expect(searched.find((e) => e.query === "xyzzy")).toMatchObject({ result_count: 0 });
  expect(searched.find((e) => e.query === "slak integr")).toMatchObject({ result_count: 1 });
  expect(searched.find((e) => e.query === "improt")).toMatchObject({ result_count: 1 });
  expect(searched.filter((e) => ["i", "im", "imp", "impr", "impro"].includes(e.query))).toEqual([]);
  expect((await collector.events({ anonymous_id: anon, type: "help_opened" })).length).toBe(1);
});

test("suggestions follow client-side navigation (pushState and back)", async ({ page, collector }) => {
  await openHelp(page, collector);
  await expect(suggestions(page)).toContainText(["Connect Slack to get project updates", "Import projects from a CSV file"]);
  await page.evaluate(() => history.pushState({}, "", "/settings.html"));
  await expect(suggestions(page)).toContainText(["Invite teammates and choose their roles"]);
  await expect(suggestions(page).filter({ hasText: "Import projects" })).toHaveCount(0);
  await page.evaluate(() => history.back());
  await expect(suggestions(page).filter({ hasText: "Import projects" })).toHaveCount(1);
});

test("suggestions follow the user's segment", async ({ page, collector }) => {
  await page.goto(`${collector.url}/settings.html?autoshow=0&team_size=500&user=ciso`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await page.getByRole("button", { name: "Help", exact: true }).click();
  await expect(suggestions(page).filter({ hasText: "single sign-on" })).toHaveCount(1);
  const small = await (await page.context().browser()!.newContext()).newPage();
  await small.goto(`${collector.url}/settings.html?autoshow=0&team_size=3&user=solo`);
  await small.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  await small.getByRole("button", { name: "Help", exact: true }).click();
  await expect(suggestions(small).first()).toBeVisible();
  await expect(suggestions(small).filter({ hasText: "single sign-on" })).toHaveCount(0);
});

test("a video loads only when opened; the article view and rating are reported", async ({ page, collector }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const videoRequests: string[] = [];
  page.on("request", (r) => { if (r.url().includes("/demo/video-import.html")) videoRequests.push(r.url()); });
  await openHelp(page, collector);
  const anon = await anonymousId(page);
  await suggestions(page).filter({ hasText: "Import projects" }).click();
  await expect(helpPanel(page).getByRole("heading", { name: "Import projects from a CSV file" })).toBeVisible();
  await expect(helpPanel(page).locator("iframe")).toHaveCount(0);
  await page.waitForTimeout(300);
  expect(videoRequests).toEqual([]);
  await helpPanel(page).getByRole("button", { name: "▶ Watch the video" }).click();
  await expect(helpPanel(page).frameLocator("iframe").getByText("Export your spreadsheet as CSV")).toBeVisible();
  expect(videoRequests.length).toBe(1);
  await page.screenshot({ path: `${artifacts}/help-article-video.png` });
  // Links in articles open safely.
  const link = helpPanel(page).getByRole("link", { name: "the column reference" });
  await expect(link).toHaveAttribute("rel", "noopener noreferrer");
  await helpPanel(page).getByRole("button", { name: "Yes" }).click();
  await expect(helpPanel(page).getByText("Thanks for the feedback!")).toBeVisible();
  const rated = await collector.eventsUntil({ anonymous_id: anon, type: "help_article_rated" }, (e) => e.length === 1);
  expect(rated[0]).toMatchObject({ article_id: "import-csv", helpful: true });
  expect(await collector.events({ anonymous_id: anon, type: "help_article_viewed" })).toMatchObject([{ article_id: "import-csv" }]);
});

test("contact us: a case lands in the collector with the page, user and recent context", async ({ page, collector }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await openHelp(page, collector);
  const anon = await anonymousId(page);
  await search(page).fill("gantt chart");
  await expect(helpPanel(page).getByRole("status")).toHaveText(/No articles match/);
  await page.waitForTimeout(900); // the search settles and is remembered as unanswered
  await search(page).fill("");
  await suggestions(page).filter({ hasText: "Connect Slack" }).click();
  await helpPanel(page).getByRole("button", { name: "← All help" }).click();
  await helpPanel(page).getByRole("button", { name: "Contact us" }).click();
  await helpPanel(page).getByRole("button", { name: "Send to the team" }).click();
  await expect(helpPanel(page).getByRole("alert")).toHaveText("Please tell us what you need help with.");
  await helpPanel(page).getByLabel("How can we help?").fill("How do I see my projects as a Gantt chart?");
  await helpPanel(page).getByLabel("Email for our reply (optional)").fill("dana@northwind.test");
  await helpPanel(page).getByRole("button", { name: "Send to the team" }).click();
  await expect(helpPanel(page).getByRole("heading", { name: "Thanks — we're on it" })).toBeVisible();
  await page.screenshot({ path: `${artifacts}/help-case-sent.png` });
  const cases = await collector.eventsUntil({ anonymous_id: anon, type: "help_case_created" }, (e) => e.length === 1);
  expect(cases[0]).toMatchObject({
    message: "How do I see my projects as a Gantt chart?",
    email: "dana@northwind.test",
    last_article: "connect-slack",
    last_failed_search: "gantt chart",
    user_id: "user_42",
    url: `${collector.url}/?autoshow=0`,
  });
  // …and it is an open case for a person to follow up.
  const res = await fetch(`${collector.url}/v1/cases?status=open`, { headers: { authorization: "Bearer sk_demo" } });
  const { cases: open } = await res.json();
  expect(open).toHaveLength(1);
  expect(open[0]).toMatchObject({ rule: "help_contact", status: "open", user_id: "user_42" });
  expect(open[0].title).toBe("Help request: How do I see my projects as a Gantt chart?");
});

test("hostile article content renders inert", async ({ page, collector }) => {
  await openHelp(page, collector);
  await search(page).fill("hostile");
  await results(page).first().click();
  const article = helpPanel(page).getByRole("article");
  await expect(article).toContainText('<script>window.__pwned = "script"</script>');
  await expect(article).toContainText("<img src=x onerror=");
  const dangerous = await page.evaluate(() => {
    const root = document.querySelector('touchpoint-widget[data-touchpoint="dock"]')!.shadowRoot!;
    const art = root.querySelector("article")!;
    return {
      scripts: art.querySelectorAll("script").length,
      imgs: art.querySelectorAll("img").length,
      handlers: [...art.querySelectorAll("*")].filter((el) => [...el.attributes].some((a) => a.name.startsWith("on"))).length,
      links: [...art.querySelectorAll("a")].map((a) => a.getAttribute("href")),
      strong: art.querySelectorAll("strong").length,
    };
  });
  expect(dangerous).toEqual({ scripts: 0, imgs: 0, handlers: 0, links: [], strong: 1 });
  await article.getByText("javascript link").click();
  await article.getByText("raw link").click();
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
});

test("search works offline once the help is loaded; the panel passes an axe scan", async ({ page, collector }) => {
  const { default: AxeBuilder } = await import("@axe-core/playwright");
  await openHelp(page, collector);
  await goOffline(page);
  await search(page).fill("roles");
  await expect(results(page).first()).toHaveText("Invite teammates and choose their roles");
  await page.context().setOffline(false);
  const scan = await new AxeBuilder({ page }).include('touchpoint-widget[data-touchpoint="dock"]').analyze();
  expect(scan.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
});
