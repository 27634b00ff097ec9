/** Options for {@link init} (also accepted as `data-*` attributes on the script tag, e.g. `data-request-timeout-ms`). */
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
  /** Treat Global Privacy Control / Do Not Track as an opt-out. Default false. */
  respectPrivacySignals?: boolean;
  /** How the widgets look. As a `data-theme` attribute: JSON text. */
  theme?: TouchpointTheme;
  /** Force a locale, e.g. `"de"`; otherwise the browser's languages choose (`de-AT` → `de` → English). */
  locale?: string;
  /**
   * Strings to add or override, per locale: `{ ar: { "survey.send": "إرسال" } }`. The keys are listed
   * in `crates/core/src/i18n.rs`; an unknown key is reported, not ignored. As a
   * `data-messages` attribute: JSON text.
   */
  messages?: { [locale: string]: { [key: string]: string } };
  /**
   * The last look at each event before it is queued: return it (changed or not; returning nothing
   * keeps the object as you left it), or `null` to drop it (said on the console in debug mode). Its
   * `id` and `type` are not yours to change. If it throws or returns something else, the event is
   * sent unmodified and the console says so: an event is never lost to a broken hook. With the
   * script tag, give it on the stub: `window.Touchpoint = { q: [], options: { beforeSend } }`.
   */
  beforeSend?: (event: TouchpointEvent) => TouchpointEvent | null | void;
}

/** An event as `beforeSend` sees it: the `/v1` wire form (see `crates/protocol/schema/`). */
export interface TouchpointEvent {
  id: string;
  ts: number;
  anonymous_id: string;
  user_id?: string;
  url: string;
  type: string;
  [field: string]: unknown;
}

export interface TouchpointTheme {
  /** Any CSS colour. */
  accent?: string;
  /** Text on the accent colour. */
  accentInk?: string;
  /** A CSS font-family list. */
  font?: string;
  /** A CSS length, e.g. `"6px"`. */
  radius?: string;
  /** `"auto"` (default) follows `prefers-color-scheme`. */
  colorScheme?: "auto" | "light" | "dark";
  /** The survey card's corner (default `"right"`); the help and checklist dock takes the other. */
  position?: "left" | "right";
}

/** JSON-serialisable properties of an event or traits of a user. */
export type Properties = { [key: string]: unknown };

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

/** A follow-up an ending asks the backend to run, e.g. `{ action: "offer", code: "trial_extension_14d" }`. */
export interface SurveyAction {
  action: string;
  [param: string]: unknown;
}

/** What the widget tells the host, by event name. */
export interface TouchpointEvents {
  /** Delivery failures, rejected or dropped events, storage trouble. */
  error: TouchpointError;
  "survey:shown": { surveyId: string; responseId: string };
  "survey:completed": { surveyId: string; endingId: string; actions: SurveyAction[] };
  "survey:dismissed": { surveyId: string; questionId: string };
  "checklist:item_completed": { checklistId: string; itemId: string; rule: string };
  "checklist:completed": { checklistId: string };
  /** A checklist call to action with `{ "callback": name }` was clicked. */
  cta: { name: string; itemId: string };
}

/**
 * Loads the widget and starts it. Resolves to `true` once ready; `false` if the options were
 * rejected, or if the widget could not be loaded (a Content-Security-Policy without
 * `'wasm-unsafe-eval'`, a CDN error). The reason is on the console, once. A widget that could not
 * be loaded throws nothing into the page: every call does nothing and answers what it answers
 * when it does nothing (`showSurvey` → `false`, `on` → `false`, everything else → `undefined`,
 * as the second module's calls answer when that module could not be loaded), and the events queued by
 * earlier pages stay in storage for the next one. Call once.
 */
export function init(options: TouchpointOptions, early?: EarlyFetches): Promise<boolean>;

/**
 * Requests a loader may start before the widget's code has arrived, so they run alongside it
 * (the script-tag loader does this). A failed survey fetch is made again by the widget.
 */
export interface EarlyFetches {
  /** `touchpoint_bg.wasm` from next to this module: compiled (`WebAssembly.compileStreaming`) or its response. */
  wasm?: Promise<WebAssembly.Module | Response>;
  /** `GET {endpoint}/v1/surveys/{id}` for surveys the page has already asked to show. */
  surveys?: Record<string, Promise<Response>>;
}

/** Options of {@link identify}. */
export interface IdentifyOptions {
  /**
   * Proof that the page speaks for `userId`, for projects with identity verification: the
   * lowercase hex HMAC-SHA256 of `userId` under the project's `identity_secret`, computed by
   * your backend (never in the page). Without it such a project rejects this user's events.
   */
  userHash?: string;
}

/**
 * Names the current user; later events carry this id, the checklist follows their traits, and
 * surveys' targeting and recontact periods follow the user across devices.
 */
export function identify(userId: string, traits?: Properties, options?: IdentifyOptions): void;

/** Traits of an account (a customer of yours), e.g. `{ name: "Acme", seats: 40, owner: "sam@you.example" }`. */
export interface AccountTraits extends Properties {
  name?: string;
  plan?: string;
  seats?: number;
  industry?: string;
  /** Who owns the account on your side: routing assigns its cases to them. */
  owner?: string;
}

/**
 * Ties the current user to account `accountId`. Checklist items with `"scope": "account"` then
 * count every user of the account, and the collector scores the account's health from them.
 */
export function group(accountId: string, traits?: AccountTraits): void;

/**
 * Your declared events, by name, with their properties. Empty here, so any name is allowed;
 * `touchpoint-collector types --projects projects.json` generates a declaration that fills
 * it from the project's `events.declared`, and then `tsc` checks every `track()` call.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface EventMap {}

/** Any name until {@link EventMap} is filled; then only the declared ones. */
export type EventName = [keyof EventMap] extends [never] ? string : Extract<keyof EventMap, string>;

/** The properties of event `N`: its declared ones, or any {@link Properties}. */
export type EventProperties<N extends string> = N extends keyof EventMap ? EventMap[N] : Properties;

/**
 * Records a success behavior, e.g. `track("imported_data", { rows: 120 })`. The event is
 * stored in `localStorage` before it is sent and is delivered once, surviving reloads and
 * outages. Returns its id, or `undefined` if it was refused (see {@link on}). Declared
 * events with required properties need them.
 */
export function track<N extends EventName>(
  name: N,
  ...properties: {} extends EventProperties<N> ? [properties?: EventProperties<N>] : [properties: EventProperties<N>]
): string | undefined;

/** Records a page view (single-page apps: on route changes). Returns the event id. */
export function page(properties?: Properties): string | undefined;

/**
 * Fetches survey `id` from the collector and shows it. Resolves to `true` once it is on
 * screen; `false` if it could not be shown (the reason is on the console).
 */
export function showSurvey(id: string): Promise<boolean>;

/**
 * Opens the onboarding checklist; `false` if none is loaded for this user.
 *
 * `showChecklist`, `openHelp`, `complete`, `setBusy`, `why`, `debug` and `replayDeadLetters` are served by the widget's
 * second module, which loads after the first survey card (or at once when none is on its way).
 * Called before it runs, they are kept and replayed in order, and return a Promise of their result
 * (`undefined` if that module could not be loaded).
 */
export function showChecklist(): boolean;

/** Opens the help panel, optionally searching for `query`; `false` if there is no help content. */
export function openHelp(query?: string): boolean;

/** Closes whatever Touchpoint shows; a survey on screen counts as dismissed. */
export function hide(): void;

/**
 * Marks onboarding checklist item `itemId` complete (items whose rule is `"manual"`, or
 * anything the host knows is done). `false`, with the reason on the console, for an
 * unknown item or when no checklist is loaded.
 */
export function complete(itemId: string): boolean;

/** Forgets the user (call it on logout): a new anonymous id, no user id or traits. */
export function reset(): void;

/** Stops all collection in this browser until {@link optIn}; unsent events are deleted. */
export function optOut(): void;
export function optIn(): void;

export function on<K extends keyof TouchpointEvents>(name: K, listener: (payload: TouchpointEvents[K]) => void): boolean;
export function off<K extends keyof TouchpointEvents>(name: K, listener: (payload: TouchpointEvents[K]) => void): void;

/** While `true`, no survey or nudge claims the user's attention (a checkout, your own modal). */
export function setBusy(busy: boolean): void;

/** The rule that decided, by name; `unknown`, `not_loaded` and `opted_out` when there is no verdict. */
export type WhyRule =
  | "on_screen" | "busy" | "session_cap" | "recontact" | "kind_cooldown" | "cooldown" | "available"
  | "url" | "segment" | "traits" | "first_seen" | "event" | "sampling" | "queued"
  | "unknown" | "not_loaded" | "opted_out";

/** What {@link why} answers. */
export type WhyAnswer =
  | { id: string; kind: "survey" | "nudge"; opens?: "checklist" | "help"; eligible: true; show_at_ms: number }
  | {
      id: string;
      kind?: "survey" | "nudge";
      opens?: "checklist" | "help";
      eligible: false;
      rule: WhyRule;
      /** A sentence, e.g. "recontact period: last shown 12 days ago, needs 90". */
      reason: string;
      /** The rule's figures, e.g. `{ days_ago: 12, needs_days: 90, eligible_at_ms: … }`. */
      data?: Record<string, unknown>;
    };

/** Why the survey or nudge `experienceId` of the remote config is, or is not, showing now. */
export function why(experienceId: string): WhyAnswer;

/**
 * Shows (default) or removes an overlay listing every experience with its verdict (also
 * `?touchpoint_debug=1`), and the dead letters: events the collector rejected by themselves,
 * each with its reason.
 */
export function debug(on?: boolean): void;

/**
 * Puts the dead letters (events the collector rejected by themselves, see {@link debug}; its
 * overlay has a button for this too) back in the queue to be sent again, e.g. once the collector
 * accepts them. Returns how many; `0` while opted out. One the collector still rejects comes back
 * to the dead letters.
 */
export function replayDeadLetters(): number;
