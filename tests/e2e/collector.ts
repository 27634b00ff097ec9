// Runs the real collector binary on 127.0.0.1 with a fresh data directory, one per test,
// so each test can assert exactly which events were stored.
import { test as base, expect, Page } from "@playwright/test";
import { spawn, ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

const root = resolve(here, "../..");
export const artifacts = join(root, "tests/artifacts");

export type StoredEvent = { id: string; type: string; ts: number; anonymous_id: string; user_id?: string; url: string; [k: string]: unknown };

export class Collector {
  /** The secret key the read APIs require: the demo project's, unless a test gives its own projects file. */
  secret = "sk_demo";

  constructor(public url: string, public proc: ChildProcess, public dir: string) {}

  private get auth() {
    return { authorization: `Bearer ${this.secret}` };
  }

  async stop() {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      await exited;
    }
  }

  /** Stops and starts again on the same data (on a new port). */
  async restart() {
    await this.stop();
    const next = await launch(this.dir);
    this.url = next.url;
    this.proc = next.proc;
  }

  async events(query: Record<string, string> = {}): Promise<StoredEvent[]> {
    const res = await fetch(`${this.url}/v1/events?${new URLSearchParams(query)}`, { headers: this.auth });
    expect(res.status).toBe(200);
    return (await res.json()).events;
  }

  /** Waits until the collector holds events for `query` whose last one is of `type`. */
  async eventsUntil(query: Record<string, string>, done: (evs: StoredEvent[]) => boolean): Promise<StoredEvent[]> {
    let evs: StoredEvent[] = [];
    await expect.poll(async () => done((evs = await this.events(query))), { timeout: 10_000 }).toBe(true);
    return evs;
  }

  async nps(surveyId: string) {
    const res = await fetch(`${this.url}/v1/surveys/${surveyId}/nps`, { headers: this.auth });
    expect(res.status).toBe(200);
    return res.json();
  }
}

/** A fresh working directory: the repo's surveys and help articles plus the test-only ones. */
export function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "touchpoint-e2e-"));
  const surveys = join(dir, "surveys");
  cpSync(join(root, "surveys"), surveys, { recursive: true });
  for (const f of readdirSync(join(here, "fixtures/surveys"))) cpSync(join(here, "fixtures/surveys", f), join(surveys, f));
  // The demo's help articles plus test-only ones (e.g. hostile content).
  const help = join(dir, "help");
  cpSync(join(root, "help"), help, { recursive: true });
  for (const f of readdirSync(join(here, "fixtures/help"))) cpSync(join(here, "fixtures/help", f), join(help, f));
  return dir;
}

async function start(): Promise<Collector> {
  const dir = workDir();
  const { url, proc } = await launch(dir);
  return new Collector(url, proc, dir);
}

/** Starts the collector binary over `dir`, with `extra` flags after the usual ones. */
export async function launch(dir: string, extra: string[] = []): Promise<{ url: string; proc: ChildProcess }> {
  const bin = process.env.TOUCHPOINT_COLLECTOR ?? join(root, "target/release/touchpoint-collector");
  const args = ["--addr", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--surveys-dir", join(dir, "surveys"),
                "--www-dir", join(root, "www"), "--pkg-dir", join(root, "pkg"),
                "--help-dir", join(dir, "help"), "--checklists", join(root, "checklists.json"), ...extra];
  // DATABASE_URL is for the Rust suite's Postgres run; the e2e collectors use SQLite in their own directory.
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  const url = await new Promise<string>((ok, fail) => {
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) ok(m[1]);
    });
    proc.on("exit", (code) => fail(new Error(`collector exited with ${code}: ${stderr}`)));
    setTimeout(() => fail(new Error(`collector did not start: ${out} ${stderr}`)), 10_000);
  });
  return { url, proc };
}

export const test = base.extend<{ collector: Collector; consoleErrors: string[] }>({
  collector: async ({}, use) => {
    const c = await start();
    await use(c);
    await c.stop();
    rmSync(c.dir, { recursive: true, force: true });
  },
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    await use(errors);
  },
});
export { expect };

/** Opens a demo page without the automatic survey and waits for the widget to load. */
export async function openDemo(page: Page, c: Collector, path = "/") {
  await page.goto(`${c.url}${path}${path.includes("?") ? "&" : "?"}autoshow=0`);
  await page.waitForFunction(() => (window as any).Touchpoint?.loaded === true);
}

/** Takes the page's context offline, and returns once a request from the page really fails:
 *  `setOffline` resolves before the network side applies it, and a send made in between went
 *  through under load (one batch of a test's "queued offline" events reached the collector). */
export async function goOffline(page: Page) {
  await page.context().setOffline(true);
  await expect
    .poll(() => page.evaluate(() => fetch(`${location.origin}/healthz?probe=${Math.random()}`, { cache: "no-store" }).then(() => "online", () => "offline")))
    .toBe("offline");
}

export async function anonymousId(page: Page): Promise<string> {
  const id = await page.evaluate(() => localStorage.getItem("touchpoint:pk_demo:anonymous_id"));
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return id!;
}

/** The survey card, found inside the widget's shadow root by its role. */
export function card(page: Page) {
  return page.getByRole("dialog");
}
