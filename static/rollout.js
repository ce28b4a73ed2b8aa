// staticml rollout, in a release's page (docs/rollout.md): loaded by app.js, it
//   - sends this browser back to the site's router when the plan changed since it was routed,
//   - runs the shadow release (if the plan names one, static/shadow.js) on the same records, in a
//     worker of its own, after the primary result is shown, and counts how the two compare,
//   - counts "was this right?" feedback (window.staticml.feedback(true|false)) for this release.
// Only counts leave the page, in rollout summaries (docs/summaries.md): never a record, a label
// per prediction, or the anonymous id the router keeps.

import { dailyBudget } from "./budget.js";
import { startShadow } from "./shadow.js";
import { ROLLOUT_ASSIGNMENT, ROLLOUT_REROUTED, rolloutKey, stored } from "./storage.js";

// Latency histogram bins, in milliseconds: (-inf, 1), [1, 2), ..., [5000, +inf).
export const LATENCY_EDGES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const MAX_OUTBOX = 50; // unsent summaries kept; older ones are dropped
const REGRESSION_TOLERANCE = 1e-3; // relative: shadow and primary values agree within 0.1%

function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or blocked: counts stay in memory for this visit
  }
}

// 128 random bits, per summary and never per device: the collector merges a resent summary once.
function summaryId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function latencyBin(ms) {
  const index = LATENCY_EDGES_MS.findIndex((edge) => ms < edge);
  return index < 0 ? LATENCY_EDGES_MS.length : index;
}

// --- where this page runs: alone, or as a release of a site --------------------------------------

function siteOf(config) {
  const marker = `/releases/${config.release}/`;
  if (!location.pathname.includes(marker)) return null;
  const root = new URL("../../", location.href).href;
  return { root, assignment: stored(ROLLOUT_ASSIGNMENT, null) };
}

function reroute(site) {
  try {
    const last = JSON.parse(sessionStorage.getItem(ROLLOUT_REROUTED)) ?? 0;
    if (Date.now() - last < 10_000) return; // the plan is changing right now: stay, never loop
    sessionStorage.setItem(ROLLOUT_REROUTED, JSON.stringify(Date.now()));
  } catch {
    return; // without storage a reroute could loop: stay on this release
  }
  location.replace(site.root);
}

async function checkPlan(site, config) {
  if (site.assignment?.release !== config.release) return reroute(site);
  const response = await fetch(`${site.root}manifest.json`, { cache: "no-cache", credentials: "same-origin" });
  if (!response.ok) return;
  const plan = await response.json();
  if (plan.serial !== site.assignment.serial) reroute(site);
}

// --- counting and sending -----------------------------------------------------------------------

function emptyTally(config, shadow) {
  const classes = config.runtime.model.classes;
  const size = config.runtime.model.kind === "regression" ? 0 : classes.length + 1;
  return {
    release: config.release,
    shadow: shadow
      ? {
          release: shadow,
          n: 0,
          agree: 0,
          confusion: size ? Array.from({ length: size }, () => new Array(size).fill(0)) : null,
          latency: { primary: new Array(LATENCY_EDGES_MS.length + 1).fill(0), shadow: new Array(LATENCY_EDGES_MS.length + 1).fill(0) },
        }
      : null,
    feedback: { right: 0, wrong: 0 },
  };
}

function compare(config, primary, shadow) {
  if (primary.value !== undefined) {
    const agree = Math.abs(primary.value - shadow.value) <= REGRESSION_TOLERANCE * Math.max(1, Math.abs(primary.value));
    return { agree, row: null, column: null };
  }
  const classes = config.runtime.model.classes;
  const index = (label) => (classes.includes(label) ? classes.indexOf(label) : classes.length);
  return { agree: primary.label === shadow.label, row: index(primary.label), column: index(shadow.label) };
}

export function start({ config, runtime, monitor }) {
  const site = siteOf(config);
  // No manifest (a copied release): stay. Settles once the plan was checked.
  const planChecked = site ? checkPlan(site, config).catch(() => {}) : Promise.resolve();
  const assigned = site?.assignment?.release === config.release ? site.assignment : null;
  const shadowRelease = assigned?.shadow ?? null;
  const settings = config.monitor;
  const tallyKey = rolloutKey(config.app.name, "tally");
  const outboxKey = rolloutKey(config.app.name, "outbox");
  const sending = () => Boolean(settings) && monitor.enabled();
  const budget = dailyBudget(config.app.name, settings); // shared with the drift summaries
  let tally = stored(tallyKey, null);
  if (tally?.release !== config.release || (tally.shadow?.release ?? null) !== shadowRelease) {
    tally = emptyTally(config, shadowRelease);
  }
  const shadow =
    shadowRelease && sending()
      ? runtime.ready.then(() => startShadow(site.root, shadowRelease, assigned.shadowIntegrity))
      : null;
  shadow?.catch((error) => console.warn(`The shadow release ${shadowRelease} could not start: ${error.message}`));

  function counted() {
    const events = (tally.shadow?.n ?? 0) + tally.feedback.right + tally.feedback.wrong;
    if (events >= settings.minPredictions) freeze();
    save(tallyKey, tally);
  }

  // With monitor.epsilon every count gets the drift summaries' noise, in the worker's Python,
  // and which parts are present no longer depends on the counts (a shadow part whenever a
  // shadow runs, a feedback part always). A summary that could not be noised is not sent.
  function freeze() {
    const noised = settings.epsilon != null;
    const exact = {
      v: 1,
      id: summaryId(),
      release: tally.release,
      hour: new Date().toISOString().slice(0, 13),
      shadow: (noised ? tally.shadow : tally.shadow?.n) ? tally.shadow : null,
      feedback: noised || tally.feedback.right + tally.feedback.wrong ? tally.feedback : null,
    };
    tally = emptyTally(config, shadowRelease);
    const ready = noised ? runtime.noise(exact, settings.epsilon) : Promise.resolve(exact);
    ready.then(
      (summary) => {
        save(outboxKey, [...stored(outboxKey, []), summary].slice(-MAX_OUTBOX));
        send();
      },
      (error) => console.warn(`A rollout summary was not sent: adding its noise failed (${error.message}).`),
    );
  }

  let busy = false;

  // One sender at a time, oldest summary first, re-reading the outbox so that summaries frozen
  // meanwhile go too; each is removed once the collector answered (kept when it is unreachable).
  async function send() {
    if (busy || !sending()) return;
    busy = true;
    try {
      for (let sent = 0; sent < MAX_OUTBOX; sent++) {
        const summary = stored(outboxKey, [])[0];
        if (!summary || !budget.take(summary.id)) break; // the day's ε is spent: kept for tomorrow
        let response;
        try {
          response = await fetch(`${settings.collector}/v1/rollout`, {
            method: "POST",
            body: JSON.stringify(summary),
            headers: { "Content-Type": "text/plain" },
            keepalive: true,
            credentials: "omit",
            referrerPolicy: "no-referrer",
          });
        } catch {
          return; // unreachable: kept for the next visit
        }
        if (response.status === 429 || response.status >= 500) return;
        if (!response.ok) console.warn(`The collector refused a rollout summary (${response.status}); it is dropped.`);
        save(outboxKey, stored(outboxKey, []).slice(1));
      }
    } finally {
      busy = false;
    }
  }

  async function shadowCompare(record, primary) {
    const worker = await shadow;
    const started = performance.now();
    const result = await worker.predict(record);
    const { agree, row, column } = compare(config, primary, result);
    const counts = tally.shadow;
    counts.n += 1;
    counts.agree += agree ? 1 : 0;
    if (counts.confusion) counts.confusion[row][column] += 1;
    counts.latency.primary[latencyBin(primary.timings.totalMs)] += 1;
    counts.latency.shadow[latencyBin(result.timings?.totalMs ?? performance.now() - started)] += 1;
    counted();
  }

  function observed(record, result) {
    if (sending()) document.getElementById("feedback")?.removeAttribute("hidden");
    if (!shadow) return;
    // After the caller has shown the primary result: the shadow never delays it.
    setTimeout(() => shadowCompare(record, result).catch(() => {}), 0);
  }

  function feedback(right) {
    if (typeof right !== "boolean") throw new Error("staticml.feedback takes true (right) or false (wrong).");
    if (!sending()) return false;
    tally.feedback[right ? "right" : "wrong"] += 1;
    counted();
    return true;
  }

  for (const [id, right] of [["feedback-right", true], ["feedback-wrong", false]]) {
    document.getElementById(id)?.addEventListener("click", () => {
      feedback(right);
      document.getElementById("feedback").hidden = true;
    });
  }
  if (sending()) send();
  return {
    observed,
    feedback,
    state: () => ({ site: site?.root ?? null, shadow: shadowRelease, tally, outbox: stored(outboxKey, []) }),
    shadowReady: () => shadow ?? Promise.reject(new Error("no shadow release")),
    planChecked: () => planChecked,
  };
}
