// The real collector with extra flags (e.g. --automations), for the automations
// and dashboard specs; otherwise started exactly like ./collector.ts does it
// (fresh data directory, repo surveys + fixtures, demo site and widget build).
import { test as base, expect, Collector, artifacts } from "./collector";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "../..");
export { expect, Collector, artifacts };

/** A fresh working directory with the repo's surveys and the e2e fixture surveys. */
export function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "touchpoint-e2e-"));
  const surveys = join(dir, "surveys");
  cpSync(join(root, "surveys"), surveys, { recursive: true });
  for (const f of readdirSync(join(here, "fixtures/surveys"))) cpSync(join(here, "fixtures/surveys", f), join(surveys, f));
  return dir;
}

/** Starts the collector over `dir` with `extra` flags after the usual ones. */
export async function launchWith(dir: string, extra: string[]): Promise<Collector> {
  const bin = process.env.TOUCHPOINT_COLLECTOR ?? join(root, "target/release/touchpoint-collector");
  const args = ["--addr", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--surveys-dir", join(dir, "surveys"),
                "--www-dir", join(root, "www"), "--pkg-dir", join(root, "pkg"), ...extra];
  // DATABASE_URL is for the Rust suite's Postgres run; these specs use SQLite in their own directory.
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
  return new Collector(url, proc, dir);
}

/** `startCollector(dir => flags)`: started per test, stopped and removed after it. */
export const test = base.extend<{ startCollector: (extra: (dir: string) => string[]) => Promise<Collector> }>({
  startCollector: async ({}, use) => {
    const started: Collector[] = [];
    await use(async (extra) => {
      const dir = workDir();
      const c = await launchWith(dir, extra(dir));
      started.push(c);
      return c;
    });
    for (const c of started) {
      await c.stop();
      rmSync(c.dir, { recursive: true, force: true });
    }
  },
});

/** A read API of the demo project, with its secret key. */
export async function readApi(c: Collector, path: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(`${c.url}${path}`, { ...init, headers: { authorization: "Bearer sk_demo", ...(init.headers ?? {}) } });
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return res.json();
}

/** Stores `events` for the demo project, checking every one was accepted. */
export async function postEvents(c: Collector, events: object[]) {
  for (let i = 0; i < events.length; i += 100) {
    const res = await fetch(`${c.url}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: "pk_demo", events: events.slice(i, i + 100) }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.results.every((r: any) => r.status === "accepted"), JSON.stringify(body)).toBe(true);
  }
}
