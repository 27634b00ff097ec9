/** Options for {@link init}. */
export interface TouchpointOptions {
  /** The project's public ingest key, e.g. `"pk_demo"`. Safe to put in a page. */
  key: string;
  /** Base URL of the collector, e.g. `"https://touchpoint.example.com"`. */
  endpoint: string;
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

/** Records a success behavior, e.g. `track("imported_data", { rows: 120 })`. */
export function track(name: string, properties?: Properties): void;

/**
 * Fetches survey `id` from the collector and shows it. Resolves to `true` once
 * it is on screen; `false` if it could not be shown (the reason is on the console).
 */
export function showSurvey(id: string): Promise<boolean>;
