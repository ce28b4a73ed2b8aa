// staticml status: what the page says while the runtime loads, once it is ready, and when it
// failed; and the service worker that keeps this release for repeat visits without the network.

import { absolute } from "./runtime.js";

const $ = (id) => document.getElementById(id);

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function showLoading() {
  document.body.dataset.state = "loading";
  $("error").hidden = true;
  if ($("retry")) $("retry").hidden = true;
  $("status-stage").textContent = "Loading the runtime…";
  $("status-bar").hidden = false;
}

export function showStatus(message) {
  $("status-stage").textContent = `${message.message}…`;
  if (message.total) {
    $("status-bytes").textContent = `${megabytes(message.loaded)} of ${megabytes(message.total)}`;
    $("status-bar").value = message.loaded / message.total;
  }
}

export function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = false;
}

export function showReady(info) {
  document.body.dataset.state = "ready";
  $("status-stage").textContent = "Ready.";
  $("status-bytes").textContent =
    `Python ${info.python} (Pyodide ${info.pyodide}) and onnxruntime-web ${info.onnxruntime}, started in ${(info.bootMs / 1000).toFixed(1)} s${pythonStart(info)}.${threads(info)}`;
  $("status-bar").hidden = true;
  for (const element of document.querySelectorAll("[data-needs-runtime]")) element.disabled = false;
}

// Which way Python started: from the build's snapshot, or normally (slower) and why.
function pythonStart(info) {
  if (info.snapshot) return " from the Python snapshot";
  return info.snapshotError ? ` without the Python snapshot (${info.snapshotError})` : "";
}

// When the model has no threads for want of cross-origin isolation: why, in the console (the
// info has it too), and in short on the page (a long line would push the page down).
function threads(info) {
  if (!info.threadsUnavailable) return "";
  console.info(`staticml: ${info.threadsUnavailable}.`);
  return " No threads: the host sent no COOP/COEP headers.";
}

export function showBootFailure(error) {
  document.body.dataset.state = "failed";
  $("status-stage").textContent = "The runtime failed to start.";
  $("status-bytes").textContent = "";
  $("status-bar").hidden = true;
  showError(`Could not start the model: ${error.message}`);
  if ($("retry")) $("retry").hidden = false;
}

// Registered once the runtime is up, so its downloads never compete with the first visit's:
// by then the files it caches are in the HTTP cache.
export function keepOffline(config) {
  if (!config.serviceWorker || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker
    .register(absolute(config.serviceWorker), { scope: absolute("./") })
    .catch((error) => console.warn(`staticml: offline use is not available (${error.message}).`));
}
