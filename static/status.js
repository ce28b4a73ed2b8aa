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

// A limit of this browser the page works around, said in the page and in the console.
export function showNotice(text, level = "warn") {
  console[level](`staticml: ${text}`);
  const list = $("notices");
  if (!list || [...list.children].some((item) => item.textContent === text)) return;
  const item = document.createElement("li");
  item.textContent = text;
  list.append(item);
  list.hidden = false;
}

export function showReady(info) {
  document.body.dataset.state = "ready";
  $("status-stage").textContent = "Ready.";
  $("status-bytes").textContent =
    `Python ${info.python} (Pyodide ${info.pyodide}) and onnxruntime-web ${info.onnxruntime}, started in ${(info.bootMs / 1000).toFixed(1)} s${pythonStart(info)}.`;
  $("status-bar").hidden = true;
  for (const element of document.querySelectorAll("[data-needs-runtime]")) element.disabled = false;
}

// Threads need SharedArrayBuffer, which a browser gives only a cross-origin isolated page: one
// whose server sends COOP and COEP (staticml serve does; docs/configuration.md, runtime.threads).
export function showIsolation(info, config) {
  if (info.crossOriginIsolated) return;
  const wanted = config.runtime.ort.threads > 1;
  showNotice(
    `Threads unavailable: this page is not cross-origin isolated (its server sends no Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers), so the model runs on one thread${wanted ? `, not the ${config.runtime.ort.threads} configured` : ""}.`,
    wanted ? "warn" : "info",
  );
}

// Which way Python started: from the build's snapshot, or normally (slower) and why.
function pythonStart(info) {
  if (info.snapshot) return " from the Python snapshot";
  return info.snapshotError ? ` without the Python snapshot (${info.snapshotError})` : "";
}

export function showBootFailure(error) {
  document.body.dataset.state = "failed";
  $("status-stage").textContent = "The runtime failed to start.";
  $("status-bytes").textContent = "";
  $("status-bar").hidden = true;
  showError(`Could not start the model: ${error.message}`);
  if ($("retry")) $("retry").hidden = false;
}

const NOT_KEPT = "Offline copy not kept";

// Registered once the runtime is up, so its downloads never compete with the first visit's:
// by then the files it caches are in the HTTP cache. The page works the same without it; what
// stopped it is said: no service worker here (private browsing), or the cache refused the
// release (storage full), which the service worker tells the page before it gives up.
export function keepOffline(config) {
  if (!config.serviceWorker) return;
  const workers = "serviceWorker" in navigator ? navigator.serviceWorker : null;
  if (!workers) {
    showNotice(`${NOT_KEPT}: this browser lets no service worker run here (as in private browsing), so this page needs the network on every visit.`);
    return;
  }
  const told = new Promise((resolve) =>
    workers.addEventListener("message", (event) => event.data?.type === "staticml:not-kept" && resolve(event.data.reason)),
  );
  told.then((reason) => showNotice(`${NOT_KEPT}: ${reason}.`));
  workers
    .register(absolute(config.serviceWorker), { scope: absolute("./") })
    .then(
      (registration) => watchInstall(registration, told),
      (error) => showNotice(`${NOT_KEPT}: the service worker could not be registered (${error.name}: ${error.message}).`),
    );
}

// An install that fails without saying why (its script failed, or it was stopped) is still told.
function watchInstall(registration, told) {
  const installing = registration.installing;
  if (!installing) return;
  installing.addEventListener("statechange", () => {
    if (installing.state !== "redundant") return;
    const silent = new Promise((resolve) => setTimeout(resolve, 2000, null));
    Promise.race([told, silent]).then((reason) => reason === null && showNotice(`${NOT_KEPT}: the service worker could not cache this release.`));
  });
}
