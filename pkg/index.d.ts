/** Options for {@link init}. */
export interface TouchpointOptions {
  /** The project's public ingest key, e.g. `"pk_demo"`. Safe to put in a page. */
  key: string;
  /** Base URL of the collector, e.g. `"https://touchpoint.example.com"`. */
  endpoint: string;
  /** Wait this long to batch events before sending. Default 1000. */
  flushIntervalMs?: number;
  /** Abandon and retry a send not answered within this. Default 10000. */
  requestTimeoutMs?: number;
  /** Keep at most this many unsent events; the oldest are dropped first (and reported). Default 1000. */
  maxQueuedEvents?: number;
}

/** What `on("error", …)` listeners receive. */
export interface TouchpointError {
  code:
    | "event_too_large"
    | "queue_overflow"
    | "delivery_failed"
    | "event_rejected"
    | "corrupt_storage"
    | "storage_unavailable";
  message: string;
  /** The events concerned, where there are any. */
  eventIds: string[];
}

/** JSON-serialisable properties of an event or traits of a user. */
export type Properties = { [key: string]: unknown };

/**
 * Loads the widget and starts it. Resolves to `true` once ready, `false` if the
 * options were rejected (the reason is on the console). Call once.
 */
export function init(options: TouchpointOptions): Promise<boolean>;

/** Names the current user; later events carry this id. */
export function identify(userId: string, traits?: Properties): void;

/**
 * Records a success behavior, e.g. `track("imported_data", { rows: 120 })`. The event is
 * stored in `localStorage` before it is sent and is delivered once, surviving reloads and
 * outages. Returns its id, or `undefined` if it was refused (see {@link on}).
 */
export function track(name: string, properties?: Properties): string | undefined;

/**
 * Marks onboarding checklist item `itemId` complete (items whose rule is `"manual"`, or
 * anything the host knows is done). `false`, with the reason on the console, for an
 * unknown item or when no checklist is loaded.
 */
export function complete(itemId: string): boolean;

/** What the widget tells the host, by event name. */
export interface TouchpointEvents {
  /** Delivery failures, rejected or dropped events, storage trouble. */
  error: TouchpointError;
  /** A checklist call to action with `{ "callback": name }` was clicked. */
  cta: { name: string; itemId: string };
  "checklist:item_completed": { checklistId: string; itemId: string; rule: string };
  "checklist:completed": { checklistId: string };
}

export function on<K extends keyof TouchpointEvents>(name: K, listener: (payload: TouchpointEvents[K]) => void): boolean;
export function off<K extends keyof TouchpointEvents>(name: K, listener: (payload: TouchpointEvents[K]) => void): void;

/**
 * Fetches survey `id` from the collector and shows it. Resolves to `true` once
 * it is on screen; `false` if it could not be shown (the reason is on the console).
 */
export function showSurvey(id: string): Promise<boolean>;
