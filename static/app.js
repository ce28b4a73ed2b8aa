// staticml page script: shows the UI at once, boots the runtime worker, and exposes
//   await window.staticml.ready           → runtime info, or rejects with a readable Error
//   await window.staticml.predict(record) → {label, probabilities, model, timings}
//                                           (regressors: {value, model, timings})
//   await window.staticml.predictFile(file, {onProgress, signal}) → {csv: Blob, rows, scored, errorCount, errors}
//   await window.staticml.feedback(right)  → counts "was this prediction right?" (true/false) for
//                                           this release's rollout summaries (docs/rollout.md)
//   await window.staticml.shadow          → the shadow release's runtime info, as `ready` gives
//                                           this release's; rejects when no shadow runs
// A rejected prediction's Error has `field` naming the bad part of the record (e.g. "image.pixels").
//
// This module only wires the others together; each has one concern: runtime.js (the worker),
// inputs.js, results.js, samples.js, batch.js (CSV files), monitor.js (summaries), status.js,
// and rollout.js (shadow and feedback), with checked-fetch.js and storage.js shared. The page's
// import map, rendered by the build, maps each to its content-hashed file and its integrity.

import { setUpBatch } from "./batch.js";
import { setUpInputs } from "./inputs.js";
import { startMonitor } from "./monitor.js";
import { absolute, ownFile, reportViolation, startRuntime } from "./runtime.js";
import { loadSamples } from "./samples.js";
import { keepOffline, showBootFailure, showError, showIsolation, showLoading, showReady, showStatus } from "./status.js";

// Every module this one imports has loaded: the page's note for a script that never started
// (style.css, `.stalled`) is not needed.
document.body.dataset.started = "";
const config = JSON.parse(document.getElementById("staticml-config").textContent);

document.addEventListener("securitypolicyviolation", (event) =>
  reportViolation("page", { directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile }),
);

const events = [];
const monitor = startMonitor(config);
let runtime = null;

// Boots the runtime; after a failure the "Try again" button calls this again, in the same page.
function boot() {
  showLoading();
  const onStatus = (message) => {
    events.push(message);
    showStatus(message);
  };
  runtime = startRuntime(config, { onStatus, onMonitor: monitor.receive, monitorState: monitor.savedPartial() });
  monitor.attach(runtime);
  runtime.ready.then((info) => {
    keepOffline(config);
    showReady(info);
    showIsolation(info, config);
  }, showBootFailure);
}

document.getElementById("retry")?.addEventListener("click", boot);
boot();

// --- rollout: shadow comparison and feedback (static/rollout.js, docs/rollout.md) --------------

// Imported only when the page has rollout features. It is fetched with its integrity first, so
// that a changed file is refused by name; the import map pins the same hash for the import.
function startRollout() {
  if (!config.rollout) return null;
  // The runtime as it is when asked: "Try again" replaces it.
  const current = {
    get ready() {
      return runtime.ready;
    },
    predict: (record) => runtime.predict(record),
    noise: (summary, epsilon) => runtime.noise(summary, epsilon),
  };
  const started = ownFile(config, config.rollout)
    .then(() => import(absolute(config.rollout)))
    .then((module) => module.start({ config, runtime: current, monitor: monitor.api }));
  started.catch((error) => showError(`Rollout features are off. ${error.message}`));
  return started;
}

const rollout = startRollout();

async function predicted(record) {
  const result = await runtime.predict(record);
  rollout?.then((r) => r.observed(record, result), () => {});
  return result;
}

async function feedback(right) {
  if (!rollout) return false;
  return (await rollout).feedback(right);
}

window.staticml = {
  get ready() {
    return runtime.ready;
  },
  predict: predicted,
  predictFile: (file, options) => runtime.predictFile(file, options),
  retry: boot,
  config,
  events,
  monitor: monitor.api,
  feedback,
  rollout,
  get shadow() {
    if (!rollout) return Promise.reject(new Error("no shadow release"));
    return rollout.then((r) => r.shadowReady()).then((shadow) => shadow.info);
  },
};

const inputs = setUpInputs(config, predicted);
loadSamples(config, { inputs, predict: predicted }).catch((error) => showError(`Could not load the samples. ${error.message}`));
if (config.batch) setUpBatch((file, options) => runtime.predictFile(file, options));
