// The dashboard's checklist, help and targeting editors in Chromium against the real
// collector: a checklist item added in the dashboard shows on the demo page's next load
// (no restart) and completes from track(); a help article in Markdown previews safely
// (raw <script> and <img onerror> are text) and reaches the widget's help once
// published; a targeting rule edited in the dashboard decides whether the survey shows
// on the next load; an invalid edit is an inline error and publishing is refused; an
// axe scan and keyboard use of the three editors.
import { test, expect, openDemo, card, Collector } from "./collector";
import type { Browser, Page } from "@playwright/test";

const SECRET = "sk_demo";

async function signIn(page: Page, c: Collector) {
  await page.goto(`${c.url}/dashboard`);
  await page.getByLabel("Secret key").fill(SECRET);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await expect(page.getByRole("heading", { name: "Targeting editor" })).toBeVisible();
}

async function api(c: Collector, method: string, path: string) {
  const res = await fetch(`${c.url}${path}`, { method, headers: { authorization: `Bearer ${SECRET}` } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

const at = (page: Page, section: string, path: string) => page.locator(`#${section} [data-path="${path}"]`);

/** A new browser (no local state), on the demo page without its automatic survey. */
async function freshDemo(browser: Browser, c: Collector, query = "") {
  const page = await (await browser.newContext()).newPage();
  const config = page.waitForResponse((r) => r.url().includes("/v1/config"));
  await openDemo(page, c, `/${query}`);
  expect((await config).status()).toBe(200);
  return page;
}

test("a checklist item added in the dashboard shows on the next load and completes from track()", async ({ page, collector, browser }) => {
  await signIn(page, collector);
  const status = page.locator("#cl-status");
  // The editor opened the checklists the collector was started with.
  await expect(at(page, "checklist-editor", "checklists[0].id")).toHaveValue("get_started");
  await page.getByRole("button", { name: "Add item to get_started" }).click();
  await at(page, "checklist-editor", "checklists[0].items[4].title").fill("Export a report");
  await at(page, "checklist-editor", "checklists[0].items[4].complete_when.event").fill("exported_report");
  await expect(status).toHaveText("Draft saved.");
  await page.getByRole("button", { name: "Publish checklists" }).click();
  await expect(status).toHaveText("Published version 1. Widgets get it on their next page load.");
  await expect(page.locator("#cl-versions")).toContainText("dashboard");

  // The demo page, on the same collector process: no restart.
  const demo = await (await browser.newContext()).newPage();
  await demo.goto(`${collector.url}/?autoshow=0&user=erin&team_size=4`);
  await demo.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  const launcher = demo.getByRole("button", { name: /Get started/ });
  await expect(launcher).toContainText("0/5");
  await launcher.click();
  const item = demo.getByRole("region", { name: /./ }).getByRole("button", { name: /^Export a report/ });
  await expect(item).toHaveAccessibleName(/, to do$/);
  await demo.evaluate(() => (window as any).Touchpoint.track("exported_report"));
  await expect(item).toHaveAccessibleName(/, done$/);
  await expect(launcher).toContainText("1/5");
  const done = await collector.eventsUntil({ type: "checklist_item_completed" }, (e) => e.length === 1);
  expect(done.map((e) => [e.user_id, e.item_id, e.rule])).toEqual([["erin", "item_5", "event exported_report"]]);
});

test("a help article written in Markdown previews safely and reaches the widget's help once published", async ({ page, collector, browser, consoleErrors }) => {
  await signIn(page, collector);
  const status = page.locator("#help-status");
  await page.getByLabel("New article id").fill("export-pdf");
  await page.getByRole("button", { name: "New article" }).click();
  await expect(page.locator("#help-title")).toHaveText(/Editing the article “export-pdf” \(not published/);
  await at(page, "help-editor", "markdown").fill([
    "---",
    "title: Export a report as PDF",
    "tags: export, pdf",
    "---",
    "Open **Reports**, then choose *Export*.",
    "",
    `<script>window.__pwned = "script"</script> <img src=x onerror="window.__pwned = 'img'">`,
    "",
    "[javascript link](javascript:window.__pwned='link') and [settings](/settings.html)",
  ].join("\n"));
  const preview = page.getByRole("article", { name: "Article preview" });
  await expect(preview.getByRole("heading", { name: "Export a report as PDF" })).toBeVisible();
  await expect(preview).toContainText(`<script>window.__pwned = "script"</script>`);
  await expect(preview).toContainText(`<img src=x onerror="window.__pwned = 'img'">`);
  const built = await page.evaluate(() => {
    const art = document.getElementById("help-preview")!;
    return {
      scripts: art.querySelectorAll("script").length,
      imgs: art.querySelectorAll("img").length,
      handlers: [...art.querySelectorAll("*")].filter((el) => [...el.attributes].some((a) => a.name.startsWith("on"))).length,
      links: [...art.querySelectorAll("a")].map((a) => a.getAttribute("href")),
      strong: [...art.querySelectorAll("strong")].map((s) => s.textContent),
    };
  });
  expect(built).toEqual({ scripts: 0, imgs: 0, handlers: 0, links: ["/settings.html"], strong: ["Reports"] });
  await preview.getByText("javascript link").click();
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();

  await expect(status).toHaveText("Draft saved.");
  await page.getByRole("button", { name: "Publish article" }).click();
  await expect(status).toHaveText("Published version 1. Widgets get it on their next page load.");

  // The widget's help on the demo page's next load finds and shows it, inert there too.
  const demo = await freshDemo(browser, collector);
  await demo.getByRole("button", { name: "Help", exact: true }).click();
  const help = demo.getByRole("region", { name: "Help" });
  await help.getByRole("searchbox", { name: "Search help" }).fill("export pdf");
  const first = help.getByRole("list", { name: "Search results" }).getByRole("button").first();
  await expect(first).toHaveText("Export a report as PDF");
  await first.click();
  const article = help.getByRole("article");
  await expect(article).toContainText("Open Reports, then choose Export.");
  await expect(article).toContainText(`<script>window.__pwned = "script"</script>`);
  expect(await demo.evaluate(() => (window as any).__pwned)).toBeUndefined();
  // The dashboard asked for nothing it could not have, and its policy was never hit.
  expect(consoleErrors).toEqual([]);
});

test("a targeting rule edited in the dashboard decides whether the survey shows on the next load", async ({ page, collector, browser }) => {
  await signIn(page, collector);
  const status = page.locator("#tg-status");
  // The collector runs without a targeting file: the project starts from nothing.
  await expect(status).toHaveText("Opened.");
  await page.getByRole("button", { name: "Add a survey rule" }).click();
  await at(page, "targeting-editor", "surveys[0].id").selectOption("nps");
  await at(page, "targeting-editor", "surveys[0].targeting.urls").fill("/reports/*");
  await expect(status).toHaveText("Draft saved.");
  await page.getByRole("button", { name: "Publish targeting" }).click();
  await expect(status).toHaveText(/Published version 1/);

  const elsewhere = await freshDemo(browser, collector);
  await elsewhere.waitForTimeout(1500);
  await expect(card(elsewhere)).toHaveCount(0);
  const why = await elsewhere.evaluate(() => (window as any).Touchpoint.why("nps"));
  expect(why).toMatchObject({ eligible: false, rule: "url" });

  await at(page, "targeting-editor", "surveys[0].targeting.urls").fill("/");
  await expect(status).toHaveText("Draft saved.");
  await page.getByRole("button", { name: "Publish targeting" }).click();
  await expect(status).toHaveText(/Published version 2/);

  const here = await freshDemo(browser, collector);
  await expect(card(here).getByRole("group", { name: /How likely are you to recommend/ })).toBeVisible();
  const anon = await here.evaluate(() => localStorage.getItem("touchpoint:pk_demo:anonymous_id"));
  await collector.eventsUntil({ anonymous_id: anon!, type: "survey_shown" }, (evs) => evs.length === 1);
});

test("an invalid edit shows its error next to the field, and publishing is refused", async ({ page, collector }) => {
  await signIn(page, collector);
  await page.getByRole("button", { name: "Add a survey rule" }).click();
  await at(page, "targeting-editor", "surveys[0].id").selectOption("nps");
  await page.getByRole("button", { name: "Publish targeting" }).click();
  await expect(page.locator("#tg-status")).toHaveText(/Published version 1/);

  // A page pattern must be a path: the collector's 422 names surveys[0].targeting.urls[0].
  const pages = at(page, "targeting-editor", "surveys[0].targeting.urls");
  await pages.fill("reports");
  await expect(pages).toHaveAttribute("aria-invalid", "true");
  const describedBy = await pages.getAttribute("aria-describedby");
  const error = page.locator(`#${describedBy}`);
  await expect(error).toBeVisible();
  await expect(error).not.toBeEmpty();
  // Next to the field: the error follows the field's own label-and-input pair.
  expect(await error.evaluate((e) => e.previousElementSibling?.contains(document.querySelector('#targeting-editor [data-path="surveys[0].targeting.urls"]')))).toBe(true);
  await expect(page.locator("#tg-problems")).toContainText("surveys[0].targeting.urls[0]");
  await expect(page.getByRole("button", { name: "Publish targeting" })).toBeDisabled();
  await expect(page.locator("#tg-status")).toHaveText(/Draft not saved: 1 problem/);

  // Traits that are not JSON are refused in the page, next to their field, and nothing is sent.
  const traits = at(page, "targeting-editor", "surveys[0].targeting.traits");
  await traits.fill("{plan: pro");
  await expect(traits).toHaveAttribute("aria-invalid", "true");

  // Nothing was published: the project's targeting is still version 1, and its draft is not the broken edit.
  const item = await api(collector, "GET", "/v1/content/targeting/default");
  expect(item.body.live.version).toBe(1);
  expect(item.body.live.body.surveys[0].targeting.urls).toEqual(["/"]);
  expect((await api(collector, "GET", "/v1/content/targeting/default/versions")).body.versions).toHaveLength(1);

  // Fixing both enables publishing again.
  await traits.fill("");
  await pages.fill("/reports/*");
  await expect(page.locator("#tg-status")).toHaveText("Draft saved.");
  await expect(pages).not.toHaveAttribute("aria-invalid", "true");
  await expect(page.getByRole("button", { name: "Publish targeting" })).toBeEnabled();
});

test("the checklist, help and targeting editors pass an axe scan and work by keyboard", async ({ page, collector }) => {
  const { default: AxeBuilder } = await import("@axe-core/playwright");
  await signIn(page, collector);

  // A help article, written and published with the keyboard only.
  await page.getByLabel("New article id").focus();
  await page.keyboard.type("keyboard-only");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "New article" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("#help-title")).toHaveText(/Editing the article “keyboard-only”/);
  await page.keyboard.press("Tab");
  await expect(at(page, "help-editor", "markdown")).toBeFocused();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("---\ntitle: Typed by keyboard\n---\nEvery step **by keyboard**.\n");
  await expect(page.getByRole("article", { name: "Article preview" }).getByRole("heading", { name: "Typed by keyboard" })).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Publish article" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("#help-status")).toHaveText(/Published version 1/);

  // A checklist item reordered by keyboard, and the order saved.
  await page.getByRole("button", { name: "Move down item 1 of get_started" }).focus();
  await page.keyboard.press("Enter");
  await expect(at(page, "checklist-editor", "checklists[0].items[0].id")).toHaveValue("import_data");
  await expect(page.locator("#cl-status")).toHaveText("Draft saved.");
  const draft = await api(collector, "GET", "/v1/content/checklists/default");
  expect(draft.body.draft.body.checklists[0].items.map((i: any) => i.id).slice(0, 2)).toEqual(["import_data", "create_project"]);

  // A targeting rule added by keyboard.
  await page.getByRole("button", { name: "Add a survey rule" }).focus();
  await page.keyboard.press("Enter");
  await expect(at(page, "targeting-editor", "surveys[0].id")).toBeVisible();

  const scan = await new AxeBuilder({ page }).include("#checklist-editor").include("#help-editor").include("#targeting-editor").analyze();
  expect(scan.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`)).toEqual([]);
});
