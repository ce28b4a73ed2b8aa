// staticml storage keys: every name the page, its rollout module and the site's router keep in
// this browser's localStorage or sessionStorage, in one place. Only counts, settings and the
// rollout's anonymous id are kept, never an input (docs/summaries.md, docs/rollout.md).

// The router's anonymous id (never sent anywhere) and the release it chose for this browser.
export const ROLLOUT_ID = "staticml-rollout:id";
export const ROLLOUT_ASSIGNMENT = "staticml-rollout:assignment";
// sessionStorage: when a release page last sent this browser back to the router.
export const ROLLOUT_REROUTED = "staticml-rollout:rerouted";

// One app's keys: `monitorKey(app, "outbox")` → "staticml-monitor:<app>:outbox". An app keeps
// "outbox", "partial", "last", "consent" (monitor.js) and "budget" (budget.js: the day and the
// ε spent in it), and writes then removes "probe" to learn at once whether storage works.
export const monitorKey = (app, name) => `staticml-monitor:${app}:${name}`;
export const rolloutKey = (app, name) => `staticml-rollout:${app}:${name}`;

// A JSON value from storage, or `fallback` when it is absent, unreadable or storage is blocked
// (where reading `localStorage` itself throws, or it is null).
export function stored(key, fallback, storage = null) {
  try {
    return JSON.parse((storage ?? localStorage).getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}
