// beforeSend end to end: a host hook given on the loader's stub redacts and drops events in the
// page (real Chromium, real widget), and what the real collector stores is what the hook decided.
// A hook that throws or breaks the envelope loses nothing: the event is sent unmodified, and said.
import { expect } from "./collector";
import { test } from "./faultproxy";

test("beforeSend removes a property and drops an event type; a broken hook loses nothing", async ({ page, fp, collector }) => {
  const logs: { type: string; text: string }[] = [];
  page.on("console", (m) => logs.push({ type: m.type(), text: m.text() }));
  // ?touchpoint_debug=1: debug mode, in which a dropped event is named on the console.
  await page.goto(`${fp.url}/fixture/before-send.html?touchpoint_debug=1`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
  // Debug mode is on once the overlay is (the second module mounts it).
  await page.locator("touchpoint-widget[data-touchpoint=debug]").waitFor({ state: "attached" });
  await page.evaluate(() => {
    const T = (window as any).Touchpoint;
    T.track("signed_up", { plan: "pro", email: "dana@example.com" });
    T.page({ title: "Pricing" });
    T.track("breaks", { email: "kept@example.com" });
    T.track("renamed", { n: 1 });
    T.track("last", { email: "x@example.com", n: 2 });
  });
  const tracks = await collector.eventsUntil({ type: "track" }, (e) => e.some((x) => x.name === "last"));
  const byName = Object.fromEntries(tracks.map((e) => [e.name, e]));
  expect(Object.keys(byName).sort()).toEqual(["breaks", "last", "renamed", "signed_up"]);
  // Redacted: the email is gone, the rest is as tracked.
  expect(byName.signed_up.props).toEqual({ plan: "pro" });
  expect(byName.last.props).toEqual({ n: 2 });
  // The hook threw, or changed the envelope: sent as it was, and the console says so.
  expect(byName.breaks.props).toEqual({ email: "kept@example.com" });
  expect(byName.renamed.props).toEqual({ n: 1 });
  const errors = logs.filter((l) => l.type === "error").map((l) => l.text);
  expect(errors).toContainEqual(expect.stringContaining(`beforeSend threw: hook bug; the track event ${byName.breaks.id} was sent unmodified`));
  expect(errors).toContainEqual(expect.stringContaining(`beforeSend must return the event (with its id and type) or null; the track event ${byName.renamed.id} was sent unmodified`));
  // Dropped: no page view is stored, and debug mode named it.
  await page.waitForTimeout(500);
  expect((await collector.events()).filter((e) => e.type === "page")).toEqual([]);
  const warnings = logs.filter((l) => l.type === "warning").map((l) => l.text);
  expect(warnings).toContainEqual(expect.stringMatching(/beforeSend dropped the page event [0-9a-f-]{36}; it was not sent/));
});
