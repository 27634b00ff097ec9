// A small HTTP proxy on 127.0.0.1 in front of the real collector that injects faults into
// POST /v1/events, one per request, in order (or every request for a while: `refuseFor`, or
// every body over a size: `maxBodyBytes`); everything else passes through. It also serves the
// test pages under /fixture/ and records which event ids it forwarded.
import http from "node:http";
import { test as base } from "./collector";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pages = join(dirname(fileURLToPath(import.meta.url)), "fixtures/pages");

/** No 'unsafe-inline', no 'unsafe-eval': only 'wasm-unsafe-eval', which WebAssembly needs. */
export const STRICT_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "frame-src 'self'",
].join("; ");

/** The same policy without 'wasm-unsafe-eval': a host that forgot it (the widget cannot compile). */
export const NO_WASM_CSP = STRICT_CSP.replace(" 'wasm-unsafe-eval'", "");

export type Fault =
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string } // answer without forwarding
  | { kind: "delay"; ms: number } // forward now, hold the answer back
  | { kind: "reset"; forward: boolean } // drop the connection, after forwarding if asked
  | { kind: "hang" }; // never answer

export type Post = { at: number; ids: string[]; bytes: number; fault?: Fault["kind"] | "window" | "limit" };

/** Every `POST /v1/events` answered with `status` until `until` (ms since the epoch). */
type Window = { until: number; status: number; headers?: Record<string, string> };

export class FaultProxy {
  faults: Fault[] = [];
  /** When set, only requests carrying a `track` event take the next fault (pages also send
   * events of their own, such as `checklist_shown`, which then pass through untouched). */
  faultsOnlyForTrack = false;
  posts: Post[] = [];
  /** A body larger than this is answered 413 without forwarding, as a proxy's body limit would. */
  maxBodyBytes = Infinity;
  private window?: Window;
  /** Event ids the collector received through us, in order, with repeats. */
  forwarded: string[] = [];
  url = "";
  private server = http.createServer((req, res) => this.handle(req, res));
  private hung: http.ServerResponse[] = [];

  constructor(public upstream: string) {}

  async start() {
    await new Promise<void>((ok) => this.server.listen(0, "127.0.0.1", ok));
    const addr = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${addr.port}`;
    return this;
  }

  /** Answers every `POST /v1/events` with `status` (and `headers`) for the next `ms`, whatever the
   * queued faults say; returns when the window closes (ms since the epoch). */
  refuseFor(ms: number, status: number, headers?: Record<string, string>): number {
    this.window = { until: Date.now() + ms, status, headers };
    return this.window.until;
  }

  async stop() {
    for (const r of this.hung) r.destroy();
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const path = req.url ?? "/";
    if (path.startsWith("/fixture/")) {
      const file = path.slice(9).split("?")[0];
      const headers: Record<string, string> = { "content-type": file.endsWith(".js") ? "text/javascript" : "text/html" };
      // csp*.html pages are served with the strictest policy a host could reasonably use;
      // nowasm*.html with the same policy less 'wasm-unsafe-eval'.
      if (file.startsWith("csp") && file.endsWith(".html")) headers["content-security-policy"] = STRICT_CSP;
      if (file.startsWith("nowasm") && file.endsWith(".html")) headers["content-security-policy"] = NO_WASM_CSP;
      try {
        res.writeHead(200, headers).end(readFileSync(join(pages, file)));
      } catch {
        res.writeHead(404).end();
      }
      return;
    }
    if (req.method !== "POST" || !path.startsWith("/v1/events")) return this.forward(req, body, res);

    let ids: string[] = [];
    let hasTrack = false;
    try {
      const events = JSON.parse(body.toString()).events as { id: string; type: string }[];
      ids = events.map((e) => e.id);
      hasTrack = events.some((e) => e.type === "track");
    } catch {}
    const at = Date.now();
    if (this.window && at < this.window.until) {
      this.posts.push({ at, ids, bytes: body.length, fault: "window" });
      res.writeHead(this.window.status, { "content-type": "application/json", ...this.window.headers });
      return res.end(JSON.stringify({ error: `injected ${this.window.status} (window)` }));
    }
    if (body.length > this.maxBodyBytes) {
      this.posts.push({ at, ids, bytes: body.length, fault: "limit" });
      res.writeHead(413, { "content-type": "text/html" });
      return res.end("<h1>413 Request Entity Too Large</h1>");
    }
    const fault = !this.faultsOnlyForTrack || hasTrack ? this.faults.shift() : undefined;
    this.posts.push({ at, ids, bytes: body.length, fault: fault?.kind });
    switch (fault?.kind) {
      case undefined:
        this.forwarded.push(...ids);
        return this.forward(req, body, res);
      case "status":
        res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers });
        return res.end(fault.body ?? JSON.stringify({ error: `injected ${fault.status}` }));
      case "delay": {
        this.forwarded.push(...ids);
        const answer = await this.fetchUpstream(req, body);
        setTimeout(() => this.send(res, answer), fault.ms);
        return;
      }
      case "reset":
        if (fault.forward) {
          this.forwarded.push(...ids);
          await this.fetchUpstream(req, body);
        }
        req.socket.destroy();
        return;
      case "hang":
        this.hung.push(res);
        return;
    }
  }

  private async fetchUpstream(req: http.IncomingMessage, body: Buffer) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string" && !["host", "connection", "content-length", "origin"].includes(k)) headers[k] = v;
    }
    try {
      const r = await fetch(this.upstream + req.url, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      const out: Record<string, string> = {};
      r.headers.forEach((v, k) => {
        if (!["content-encoding", "content-length", "transfer-encoding", "connection"].includes(k)) out[k] = v;
      });
      return { status: r.status, headers: out, body: Buffer.from(await r.arrayBuffer()) };
    } catch (e) {
      // The collector is down: answer as a gateway would.
      return { status: 502, headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ error: String(e) })) };
    }
  }

  private send(res: http.ServerResponse, a: { status: number; headers: Record<string, string>; body: Buffer }) {
    if (res.destroyed) return;
    res.writeHead(a.status, a.headers).end(a.body);
  }

  private async forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) {
    this.send(res, await this.fetchUpstream(req, body));
  }
}

/** The e2e `test` with `fp`: a fault proxy in front of the test's collector.
 * `test.use({ faultsOnlyForTrack: true })` makes faults hit only requests carrying `track` events. */
export const test = base.extend<{ fp: FaultProxy; faultsOnlyForTrack: boolean }>({
  faultsOnlyForTrack: [false, { option: true }],
  fp: async ({ collector, faultsOnlyForTrack }, use) => {
    const p = await new FaultProxy(collector.url).start();
    p.faultsOnlyForTrack = faultsOnlyForTrack;
    await use(p);
    await p.stop();
  },
});
