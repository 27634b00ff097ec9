// Content URLs are checked where the widget writes them, whatever the collector sent: a help link,
// image or video that a browser would read as another host (`//host`, `/\host`, `\\host`) is not
// written into the page, and the video frame is sandboxed. The help content here is served to the
// page directly (a route), past the collector's own checks.
import type { Page } from "@playwright/test";
import { test, expect, openDemo } from "./collector";

const helpPanel = (page: Page) => page.getByRole("region", { name: "Help" });

const article = (id: string, title: string, body: string, video?: string) =>
  ({ id, title, body, tags: [id], segments: [], urls: ["/"], ...(video ? { video } : {}) });

const HELP = {
  articles: [
    article(
      "elsewhere",
      "Links that lead elsewhere",
      [
        "A [protocol-relative link](//evil.example/a), a [backslash link](/\\evil.example/b),",
        "a [double backslash link](\\\\evil.example/c) and a [good link](/settings.html).",
        "",
        "![a pixel](/\\evil.example/pixel.png)",
      ].join("\n"),
      "/\\evil.example/video",
    ),
    article("video", "A video", "Watch it.", "/demo/video-import.html"),
  ],
};

async function openArticle(page: Page, title: string) {
  await page.getByRole("button", { name: "Help", exact: true }).click();
  await helpPanel(page).getByRole("button", { name: title }).click();
  return helpPanel(page).getByRole("article");
}

test.beforeEach(async ({ page }) => {
  await page.route("**/v1/help?*", (route) => route.fulfill({ json: HELP }));
});

test("help links and images that would lead to another host are written as text", async ({ page, collector }) => {
  await openDemo(page, collector);
  const art = await openArticle(page, "Links that lead elsewhere");
  await expect(art).toContainText("A protocol-relative link, a backslash link,");
  await expect(art).toContainText("double backslash link");
  const written = await art.evaluate((el) => ({
    links: [...el.querySelectorAll("a")].map((a) => a.getAttribute("href")),
    images: el.querySelectorAll("img").length,
    frames: el.querySelectorAll("iframe").length,
  }));
  expect(written).toEqual({ links: ["/settings.html"], images: 0, frames: 0 });
  // No video to watch: its URL leads elsewhere too.
  await expect(helpPanel(page).getByRole("button", { name: /Watch the video/ })).toHaveCount(0);
});

test("the help video plays in a sandboxed frame: scripts, its own origin and presentation, nothing more", async ({ page, collector }) => {
  await openDemo(page, collector);
  await openArticle(page, "A video");
  await helpPanel(page).getByRole("button", { name: /Watch the video/ }).click();
  const frame = helpPanel(page).locator("iframe");
  await expect(frame).toHaveAttribute("sandbox", "allow-scripts allow-same-origin allow-presentation");
  await expect(helpPanel(page).frameLocator("iframe").getByText("Export your spreadsheet as CSV")).toBeVisible();
});
