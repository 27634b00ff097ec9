// The real collector with extra flags (e.g. --automations), for the automations
// and dashboard specs; otherwise started exactly like ./collector.ts does it
// (fresh data directory, repo surveys + fixtures, demo site and widget build).
import { test as base, expect, Collector, artifacts, launch, workDir } from "./collector";
import { rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export { expect, Collector, artifacts, workDir };

/** Starts the collector over `dir` with `extra` flags after the usual ones. */
export async function launchWith(dir: string, extra: string[]): Promise<Collector> {
  const { url, proc } = await launch(dir, extra);
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
  const res = await fetch(`${c.url}${path}`, { ...init, headers: { authorization: `Bearer ${c.secret}`, ...(init.headers ?? {}) } });
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
