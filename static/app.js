// staticml page script: shows the UI at once, boots the runtime worker, and exposes
//   await window.staticml.ready           → runtime info, or rejects with a readable Error
//   await window.staticml.predict(record) → {label, probabilities, model, timings}
//                                           (regressors: {value, model, timings})
//   await window.staticml.predictFile(file, {onProgress, signal}) → {csv: Blob, rows, scored, errorCount, errors}
//   await window.staticml.feedback(right)  → counts "was this prediction right?" (true/false) for
//                                           this release's rollout summaries (docs/rollout.md)
// A rejected prediction's Error has `field` naming the bad part of the record (e.g. "image.pixels").

const config = JSON.parse(document.getElementById("staticml-config").textContent);
const $ = (id) => document.getElementById(id);
const imageFields = config.fields.filter((field) => field.type === "image");
const formFields = config.fields.filter((field) => field.type !== "image");

// --- runtime: the worker behind promises ---------------------------------------------------

function absolute(url, base = document.baseURI) {
  return new URL(url, base).href;
}

// The runtime part of a page configuration with every URL made absolute (a worker resolves
// relative URLs against its own script). `base` is the page the configuration belongs to: this
// one, or a shadow release's (static/rollout.js).
function runtimeConfig(runtime, base = document.baseURI) {
  const at = (url) => url && absolute(url, base);
  return {
    ...runtime,
    pyodide: {
      ...runtime.pyodide,
      module: at(runtime.pyodide.module),
      asm: at(runtime.pyodide.asm),
      indexURL: at(runtime.pyodide.indexURL),
      snapshot: at(runtime.pyodide.snapshot),
    },
    ort: {
      ...runtime.ort,
      module: at(runtime.ort.module),
      glue: at(runtime.ort.glue),
      wasmPaths: at(runtime.ort.wasmPaths),
      wasm: at(runtime.ort.wasm),
    },
    wheels: runtime.wheels.map(at),
    model: { ...runtime.model, url: at(runtime.model.url) },
    assets: Object.fromEntries(Object.entries(runtime.assets).map(([url, meta]) => [at(url), meta])),
  };
}

function fileName(url) {
  return new URL(url).pathname.split("/").pop();
}

const SHA256_INTEGRITY = /^sha256-[A-Za-z0-9+/]{43}=$/;

// A download checked against the hash the build (or the site's plan) gave for it. A missing or
// malformed hash would make the browser skip the check, so the file is refused instead.
async function verifiedFetch(url, integrity) {
  if (typeof integrity !== "string" || !SHA256_INTEGRITY.test(integrity)) {
    throw new Error(`Could not download ${fileName(url)}: there is no hash to check it against, so it was not used`);
  }
  let response;
  try {
    response = await fetch(url, { integrity });
  } catch (error) {
    throw new Error(`Could not download ${fileName(url)}: ${await diagnose(url, error)}`);
  }
  if (!response.ok) throw new Error(`Could not download ${fileName(url)}: the server answered ${response.status} ${response.statusText}`.trim());
  return response;
}

// The page's own downloads (the worker script, the rollout module, the samples).
function ownFile(path) {
  return verifiedFetch(absolute(path), config.integrity?.[path]);
}

async function diagnose(url, error) {
  if (navigator.onLine === false) return "this browser is offline. Reconnect, then try again";
  try {
    const probe = await fetch(url, { method: "HEAD", cache: "no-store" });
    if (!probe.ok) return `the server answered ${probe.status} ${probe.statusText}`.trim();
    return "its content does not match the hash in the build's manifest (the file was changed or truncated), so it was not used";
  } catch {
    return `${error.message} (is the server reachable?)`;
  }
}

function reportViolation(where, violation) {
  console.error(`Content Security Policy violation in the ${where}: ${violation.directive} blocked ${violation.blocked || "inline code"}${violation.source ? ` (${violation.source})` : ""}`);
}

document.addEventListener("securitypolicyviolation", (event) =>
  reportViolation("page", { directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile }),
);

function workerError(error) {
  const failure = new Error(error.field ? `Invalid record: ${error.message}` : error.message);
  failure.field = error.field;
  failure.kind = error.kind;
  return failure;
}

// A download cut off by the network going away can wait for ever instead of failing (no
// event tells the page), so only the boot timer (runtime.boot_timeout) would speak. Once the browser
// says it is offline, a boot that makes no progress for a while is told so.
const OFFLINE_STALL_MS = 10_000;

function watchOffline(ready, lastProgress, stalled) {
  let timer = null;
  let since = 0;
  const check = () => {
    if (navigator.onLine) return stop();
    if (performance.now() - Math.max(since, lastProgress()) >= OFFLINE_STALL_MS) stalled();
  };
  const stop = () => {
    clearInterval(timer);
    timer = null;
  };
  const offline = () => {
    since = performance.now();
    if (timer === null) timer = setInterval(check, 1000);
  };
  window.addEventListener("offline", offline);
  const done = () => {
    window.removeEventListener("offline", offline);
    stop();
  };
  ready.then(done, done);
}

function startRuntime(onStatus, onMonitor = () => {}, monitorState = null) {
  const pending = new Map();
  let nextId = 1;
  let lastStage = "starting";
  let worker = null;
  let settle;
  let settled = false;
  const ready = new Promise((resolve, reject) => (settle = { resolve, reject }));
  ready.then(() => (settled = true), () => (settled = true));
  const fail = (message, stage) => {
    const error = new Error(message);
    error.stage = stage || lastStage;
    settle.reject(error);
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
    worker?.terminate();
  };
  const unavailable = { ready, predict: () => ready, predictFile: () => ready };

  if (typeof WebAssembly !== "object") {
    fail("This browser cannot run WebAssembly, which the model needs. Use a current browser with WebAssembly enabled.", "check");
    return unavailable;
  }
  const seconds = Math.round(config.bootTimeoutMs / 1000);
  const timer = setTimeout(
    () => fail(`The runtime did not start within ${seconds} s (it was at: ${lastStage}). Check the browser console and that the server sends .wasm as application/wasm.`),
    config.bootTimeoutMs,
  );
  ready.then(() => clearTimeout(timer), () => clearTimeout(timer));
  let lastProgress = performance.now();
  watchOffline(ready, () => lastProgress, () => fail(`This browser went offline while the runtime was loading (it was at: ${lastStage}). Reconnect, then try again.`));

  ownFile(config.worker).then(
    () => {
      if (settled) return; // timed out meanwhile
      try {
        worker = new Worker(absolute(config.worker), { type: "module", name: "staticml" });
      } catch (error) {
        fail(`Could not start the prediction worker: ${error.message}`, "worker");
        return;
      }
      worker.onerror = onError;
      worker.onmessage = onMessage;
      worker.postMessage({ type: "boot", config: { ...runtimeConfig(config.runtime), monitorState } });
    },
    (error) => fail(error.message, "download"),
  );

  const onError = (event) => {
    event.preventDefault();
    fail(`The prediction worker could not start (${config.worker}): ${event.message || "its script failed to load"}. Check that .mjs files are served as text/javascript.`, "worker");
  };
  const onMessage = (event) => {
    const message = event.data;
    const job = pending.get(message.id);
    if (message.type === "status") {
      lastStage = message.message;
      lastProgress = performance.now();
      onStatus(message);
    } else if (message.type === "ready") {
      settle.resolve(message.info);
    } else if (message.type === "error" && message.id === null) {
      fail(message.error.message, message.error.stage);
    } else if (message.type === "progress") {
      job?.onProgress?.(message);
    } else if (message.type === "monitor") {
      if (message.state) onMonitor(JSON.parse(message.state));
    } else if (message.type === "csp") {
      reportViolation("worker", message.violation);
    } else if (message.type === "result" || message.type === "error") {
      pending.delete(message.id);
      if (message.type === "result") job?.resolve(message.result);
      else job?.reject(workerError(message.error));
    }
  };

  function request(message, extra = {}) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, ...extra });
      try {
        worker.postMessage({ ...message, id });
      } catch (error) {
        pending.delete(id);
        reject(new Error(`Invalid record: it cannot be sent to the worker (${error.message}). Use plain objects, arrays and numbers.`));
        return;
      }
      extra.signal?.addEventListener("abort", () => worker.postMessage({ type: "cancel", id }), { once: true });
    });
  }

  async function predict(record) {
    await ready;
    return request({ type: "predict", record });
  }

  async function predictFile(file, { onProgress, signal } = {}) {
    await ready;
    if (!(file instanceof Blob)) throw new Error("predictFile takes a File or Blob of CSV text.");
    return request({ type: "batch", file }, { onProgress, signal });
  }
  // A rollout summary with the same local-DP noise as drift summaries (staticml/runtime/monitor.py).
  async function noise(summary, epsilon) {
    await ready;
    return JSON.parse(await request({ type: "rollout-noise", summary: JSON.stringify(summary), epsilon }));
  }
  const tell = (message) => worker?.postMessage(message);
  return { ready, predict, predictFile, noise, tell };
}

// --- page: status ---------------------------------------------------------------------------

const events = [];
const monitor = startMonitor();
let runtime = null;
boot();
const rollout = startRollout();
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
};

// --- rollout: shadow comparison and feedback (static/rollout.js, docs/rollout.md) --------------

// `import()` takes no integrity: the module is fetched with it first, and imported only if it
// matched. The page template also preloads it with `integrity` (<link rel="modulepreload">), so
// the module the import finds is the one that was checked.
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
  const started = ownFile(config.rollout)
    .then(() => import(absolute(config.rollout)))
    .then((module) => module.start({ config, runtime: current, monitor: monitor.api, verifiedFetch, runtimeConfig }));
  started.catch((error) => showError(`Rollout features are off. ${error.message}`));
  return started;
}

async function predicted(record) {
  const result = await runtime.predict(record);
  rollout?.then((r) => r.observed(record, result), () => {});
  return result;
}

async function feedback(right) {
  if (!rollout) return false;
  return (await rollout).feedback(right);
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function showStatus(message) {
  events.push(message);
  $("status-stage").textContent = `${message.message}…`;
  if (message.total) {
    $("status-bytes").textContent = `${megabytes(message.loaded)} of ${megabytes(message.total)}`;
    $("status-bar").value = message.loaded / message.total;
  }
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = false;
}

// --- offline: the service worker keeps this release for repeat visits without the network ---

// Registered once the runtime is up, so its downloads never compete with the first visit's:
// by then the files it caches are in the HTTP cache.
function keepOffline() {
  if (!config.serviceWorker || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker
    .register(absolute(config.serviceWorker), { scope: absolute("./") })
    .catch((error) => console.warn(`staticml: offline use is not available (${error.message}).`));
}

// Boots the runtime; after a failure the "Try again" button calls this again, in the same page.
function boot() {
  document.body.dataset.state = "loading";
  $("error").hidden = true;
  if ($("retry")) $("retry").hidden = true;
  $("status-stage").textContent = "Loading the runtime…";
  $("status-bar").hidden = false;
  runtime = startRuntime(showStatus, monitor.receive, monitor.savedPartial());
  monitor.attach(runtime);
  runtime.ready.then(showReady, showBootFailure);
}

$("retry")?.addEventListener("click", boot);

function showReady(info) {
  keepOffline();
  document.body.dataset.state = "ready";
  $("status-stage").textContent = "Ready.";
  $("status-bytes").textContent =
    `Python ${info.python} (Pyodide ${info.pyodide}) and onnxruntime-web ${info.onnxruntime}, started in ${(info.bootMs / 1000).toFixed(1)} s.`;
  $("status-bar").hidden = true;
  for (const element of document.querySelectorAll("[data-needs-runtime]")) element.disabled = false;
}

function showBootFailure(error) {
  document.body.dataset.state = "failed";
  $("status-stage").textContent = "The runtime failed to start.";
  $("status-bytes").textContent = "";
  $("status-bar").hidden = true;
  showError(`Could not start the model: ${error.message}`);
  if ($("retry")) $("retry").hidden = false;
}

// --- results ----------------------------------------------------------------------------------

function formatValue(value) {
  return Math.abs(value) >= 1000 ? value.toFixed(0) : Number(value.toPrecision(4)).toString();
}

function clearResult(note = "") {
  $("result-label").textContent = "–";
  $("result-note").textContent = note;
  $("bars").replaceChildren();
  $("timings").textContent = "";
}

function showResult(result, note = "") {
  clearResult(note);
  if (result.value !== undefined) {
    const unit = config.output.unit ? ` ${config.output.unit}` : "";
    $("result-label").textContent = `${formatValue(result.value)}${unit}`;
    $("result-note").textContent = note || config.output.target;
  } else {
    $("result-label").textContent = result.label;
    for (const [name, p] of Object.entries(result.probabilities)) $("bars").append(bar(name, p, name === result.label));
  }
  const t = result.timings;
  $("timings").textContent = `Preprocessing ${t.preprocessMs.toFixed(1)} ms (Python) · model ${t.inferenceMs.toFixed(1)} ms (onnxruntime-web) · in this browser, nothing sent.`;
  document.body.dataset.predicted = "yes";
}

function bar(name, p, top) {
  const row = document.createElement("li");
  row.className = top ? "bar top" : "bar";
  row.dataset.class = name;
  const label = document.createElement("span");
  label.className = "bar-name";
  label.textContent = name;
  const track = document.createElement("span");
  track.className = "bar-track";
  const fill = document.createElement("span");
  fill.className = "bar-fill";
  fill.style.width = `${(p * 100).toFixed(1)}%`;
  track.append(fill);
  const value = document.createElement("span");
  value.className = "bar-value";
  value.textContent = `${(p * 100).toFixed(1)}%`;
  row.append(label, track, value);
  return row;
}

// --- input: the form, the canvases, and the record they make -----------------------------------

function clearFieldErrors() {
  for (const element of document.querySelectorAll(".field-error")) element.textContent = "";
  for (const element of document.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
}

function showProblem(error) {
  const name = (error.field || "").split(/[.[]/)[0];
  const slot = name && $(`error-${name}`);
  if (slot) {
    slot.textContent = error.message.replace(/^Invalid record: /, "");
    $(`field-${name}`)?.setAttribute("aria-invalid", "true");
    clearResult("Check the highlighted field.");
  } else {
    clearResult(error.message);
  }
}

function formRecord() {
  return Object.fromEntries(formFields.map((field) => [field.name, $(`field-${field.name}`).value]));
}

function fillForm(record) {
  for (const field of formFields) {
    const value = record[field.name];
    $(`field-${field.name}`).value = value === null || value === undefined ? "" : String(value);
  }
}

const canvases = new Map();

function currentRecord() {
  const record = formRecord();
  for (const [name, canvas] of canvases) record[name] = canvas.record();
  return record;
}

let inFlight = false;
let again = false;

async function predictCurrent(note = "") {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  again = false;
  clearFieldErrors();
  try {
    showResult(await predicted(currentRecord()), note);
  } catch (error) {
    showProblem(error);
  } finally {
    inFlight = false;
    if (again) predictCurrent();
  }
}

function drawingCanvas(field, onDrawn) {
  const canvas = $(`canvas-${field.name}`);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const size = canvas.width;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.lineWidth = Math.max(4, Math.round(size / 14));
  context.strokeStyle = "#111";
  let drawing = false;
  let last = null;

  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * size) / box.width, ((event.clientY - box.top) * size) / box.height];
  };
  const stroke = (from, to) => {
    context.beginPath();
    context.moveTo(...from);
    context.lineTo(...to);
    context.stroke();
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (document.body.dataset.state !== "ready") return;
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    onDrawn();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  return {
    clear: () => context.clearRect(0, 0, size, size),
    record() {
      const rgba = context.getImageData(0, 0, size, size).data;
      const pixels = new Uint8ClampedArray(size * size);
      for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[i * 4 + 3];
      return { width: size, height: size, pixels };
    },
    draw(image) {
      const tile = new OffscreenCanvas(image.width, image.height);
      tile.getContext("2d").putImageData(inkImage(image, (value) => [17, 17, 17, value]), 0, 0);
      const scale = (size * 0.8) / Math.max(image.width, image.height);
      const w = image.width * scale;
      const h = image.height * scale;
      context.clearRect(0, 0, size, size);
      context.drawImage(tile, (size - w) / 2, (size - h) / 2, w, h);
    },
  };
}

function inkImage(image, colour) {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  Array.from(image.pixels).forEach((value, i) => rgba.set(colour(value), i * 4));
  return new ImageData(rgba, image.width, image.height);
}

for (const field of imageFields) {
  canvases.set(field.name, drawingCanvas(field, () => (formFields.length ? null : predictCurrent())));
}

$("record-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  predictCurrent();
});
$("clear")?.addEventListener("click", () => {
  for (const canvas of canvases.values()) canvas.clear();
  clearFieldErrors();
  clearResult();
});

// --- samples --------------------------------------------------------------------------------------

function thumbnail(image) {
  const tile = document.createElement("canvas");
  tile.width = image.width;
  tile.height = image.height;
  tile.getContext("2d").putImageData(inkImage(image, (value) => [255 - value, 255 - value, 255 - value, 255]), 0, 0);
  return tile;
}

function agreement(result, expected) {
  if (expected.value !== undefined) {
    const difference = Math.abs(result.value - expected.value);
    return `CPython reference: ${formatValue(expected.value)}; difference ${difference.toExponential(1)}.`;
  }
  const deviation = Math.max(...Object.keys(expected.probabilities).map((k) => Math.abs(result.probabilities[k] - expected.probabilities[k])));
  const same = result.label === expected.label;
  return `CPython reference: ${expected.label}; ${same ? "same label" : "DIFFERENT label"}, largest probability difference ${deviation.toExponential(1)}.`;
}

function sampleButton(sample) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "sample";
  button.title = sample.name;
  button.dataset.needsRuntime = "";
  button.disabled = document.body.dataset.state !== "ready";
  button.setAttribute("aria-label", `Sample: ${sample.name}`);
  const image = imageFields.length ? sample.record[imageFields[0].name] : null;
  if (image) button.append(thumbnail(image));
  else button.textContent = sample.name;
  button.addEventListener("click", async () => {
    clearFieldErrors();
    fillForm(sample.record);
    for (const [name, canvas] of canvases) if (sample.record[name]) canvas.draw(sample.record[name]);
    try {
      const result = await predicted(sample.record);
      showResult(result, agreement(result, sample.expected));
    } catch (error) {
      showProblem(error);
    }
  });
  return button;
}

async function loadSamples() {
  if (!config.samples) {
    $("samples").hidden = true;
    return;
  }
  const response = await ownFile(config.samples);
  const { samples } = await response.json();
  $("sample-list").append(...samples.map(sampleButton));
}

loadSamples().catch((error) => showError(`Could not load the samples. ${error.message}`));

// --- batch: score a CSV file in the worker --------------------------------------------------------

function setUpBatch() {
  const input = $("batch-file");
  const drop = $("batch-drop");
  const cancel = $("batch-cancel");
  const progress = $("batch-progress");
  let controller = null;

  async function score(file) {
    if (!file || controller) return;
    controller = new AbortController();
    cancel.hidden = false;
    progress.hidden = false;
    progress.value = 0;
    $("batch-status").textContent = `Scoring ${file.name}…`;
    $("batch-errors").replaceChildren();
    $("batch-download").hidden = true;
    const onProgress = (p) => {
      progress.value = p.totalBytes ? p.bytes / p.totalBytes : 0;
      $("batch-status").textContent = `Scoring ${file.name}: ${p.rows.toLocaleString()} rows read, ${p.errorCount.toLocaleString()} with errors.`;
    };
    try {
      const result = await runtime.predictFile(file, { onProgress, signal: controller.signal });
      showBatchResult(file, result);
    } catch (error) {
      $("batch-status").textContent = error.kind === "cancelled" ? "Cancelled; nothing was saved." : `The file could not be scored: ${error.message}`;
    } finally {
      controller = null;
      cancel.hidden = true;
      progress.hidden = true;
      input.value = "";
    }
  }

  input.addEventListener("change", () => score(input.files[0]));
  cancel.addEventListener("click", () => controller?.abort());
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("dragging");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("dragging");
    if (document.body.dataset.state === "ready") score(event.dataTransfer.files[0]);
  });
}

function showBatchResult(file, result) {
  const link = $("batch-download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(result.csv);
  link.download = file.name.replace(/(\.csv)?$/i, "-predictions.csv");
  link.hidden = false;
  $("batch-status").textContent =
    `${result.rows.toLocaleString()} rows: ${result.scored.toLocaleString()} scored, ${result.errorCount.toLocaleString()} with errors (kept in the file, with the reason).`;
  const list = $("batch-errors");
  for (const [row, message] of result.errors.slice(0, 100)) {
    const item = document.createElement("li");
    item.textContent = `Row ${row}: ${message}`;
    list.append(item);
  }
  if (result.errorCount > 100) {
    const more = document.createElement("li");
    more.textContent = `… and ${(result.errorCount - 100).toLocaleString()} more, listed in the downloaded file.`;
    list.append(more);
  }
}

if (config.batch) setUpBatch();

// --- monitoring: anonymised summaries (docs/summaries.md) -----------------------------------------
//
// The worker counts; this page owns the outbox of frozen summaries. The outbox and the partial
// counts live in localStorage (counts only, never inputs), so nothing is lost on reload. Summaries
// go out with fetch during a visit (at most every intervalMinutes) and at page hide, always
// without cookies (not sendBeacon, which sends the collector's). Global Privacy Control and Do
// Not Track switch it off; so does the visitor's toggle.

const RETRY_MS = 60_000;
// Browsers refuse keepalive requests once their pending bodies would pass 64 KiB in total.
const KEEPALIVE_BYTES = 64 * 1024;

function post(url, body, keepalive) {
  return fetch(url, {
    method: "POST",
    body,
    headers: { "Content-Type": "text/plain" },
    keepalive,
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
}

const byteLength = (text) => new TextEncoder().encode(text).length;

function startMonitor() {
  const settings = config.monitor;
  const key = `staticml-monitor:${config.app.name}`;
  const store = {
    get: (name, fallback) => {
      try {
        return JSON.parse(localStorage.getItem(`${key}:${name}`)) ?? fallback;
      } catch {
        return fallback;
      }
    },
    set: (name, value) => localStorage.setItem(`${key}:${name}`, JSON.stringify(value)),
    drop: (name) => localStorage.removeItem(`${key}:${name}`),
  };
  const browserDeclines = navigator.globalPrivacyControl === true || navigator.doNotTrack === "1";
  let runtime = null;
  let timer = null;
  let sending = false;
  let retryAt = 0; // after a failed send, new predictions do not make the page try again sooner
  const inFlight = new Map(); // id -> body bytes of the summaries on their way to the collector
  const received = new Set(); // ids of the summaries this page took from its worker
  const enabled = () => Boolean(settings) && !browserDeclines && store.get("consent", "yes") === "yes";

  function outbox() {
    return store.get("outbox", []);
  }

  function forget(ids) {
    store.set("outbox", outbox().filter((item) => !ids.includes(item.id)));
    show();
  }

  function receive(state) {
    if (!enabled()) return;
    // The worker repeats a ready summary until it hears "monitor-sent"; a repeat that arrives
    // after the summary was delivered and left the outbox must not be queued again.
    const fresh = state.ready.filter((item) => !received.has(item.id));
    for (const item of fresh) received.add(item.id);
    store.set("outbox", [...outbox(), ...fresh]);
    store.set("partial", { release: state.release, ready: [], partial: state.partial });
    if (state.ready.length) runtime?.tell({ type: "monitor-sent", ids: state.ready.map((item) => item.id) });
    show();
    schedule();
  }

  function schedule() {
    if (!enabled() || !outbox().length || timer) return;
    const wait = Math.max(0, store.get("last", 0) + settings.intervalMinutes * 60_000 - Date.now(), retryAt - Date.now());
    timer = setTimeout(() => {
      timer = null;
      sendNow();
    }, wait);
  }

  async function sendNow() {
    if (sending || !enabled()) return;
    sending = true;
    let failed = false;
    try {
      for (const item of outbox()) {
        // Handed over at page hide meanwhile (still on its way, or already gone from the outbox).
        if (inFlight.has(item.id) || !outbox().some((kept) => kept.id === item.id)) continue;
        const body = JSON.stringify(item.summary);
        const bytes = byteLength(body);
        let response;
        inFlight.set(item.id, bytes);
        try {
          response = await post(settings.endpoint, body, bytes <= KEEPALIVE_BYTES);
        } catch {
          failed = true; // collector unreachable: keep everything for a later try
          break;
        } finally {
          inFlight.delete(item.id);
        }
        if (response.status === 429 || response.status >= 500) {
          failed = true;
          break;
        }
        if (!response.ok) console.warn(`The collector refused a summary (${response.status}); it is dropped.`);
        forget([item.id]);
        store.set("last", Date.now());
      }
    } finally {
      sending = false;
      if (failed) backOff();
      else if (outbox().length) schedule();
    }
  }

  // A send that was scheduled before the collector asked the page to wait must not go now: the
  // pending timer is replaced by one at the end of the wait.
  function backOff() {
    retryAt = Date.now() + RETRY_MS;
    clearTimeout(timer);
    timer = null;
    schedule();
  }

  // At page hide the answer may never be seen, so a summary leaves the outbox when it is handed
  // over; if the page is still there when the send fails, it is put back for a later try.
  function flushOnHide() {
    if (!enabled()) return;
    // While the collector asked the page to wait, a send whose answer the page may never see
    // would hand the summary to a collector that refuses it; the outbox keeps it for later.
    if (Date.now() < retryAt) return;
    let budget = KEEPALIVE_BYTES - [...inFlight.values()].reduce((sum, bytes) => sum + bytes, 0);
    const handed = [];
    for (const item of outbox()) {
      if (inFlight.has(item.id)) continue;
      const body = JSON.stringify(item.summary);
      const bytes = byteLength(body);
      if (bytes > budget) break; // the rest waits for the next visit
      budget -= bytes;
      handed.push(item);
      inFlight.set(item.id, bytes);
      post(settings.endpoint, body, true)
        .then((response) => {
          if (response.status === 429 || response.status >= 500) putBack(item);
        }, () => putBack(item))
        .finally(() => inFlight.delete(item.id));
    }
    if (handed.length) forget(handed.map((item) => item.id));
  }

  function putBack(item) {
    if (enabled() && !outbox().some((kept) => kept.id === item.id)) store.set("outbox", [item, ...outbox()]);
    show();
    backOff();
  }

  function show() {
    const view = $("monitor-outbox");
    if (view) view.textContent = JSON.stringify(outbox().map((item) => item.summary), null, 1) || "[]";
  }

  function setUpToggle() {
    const toggle = $("monitor-consent");
    if (!toggle) return;
    toggle.checked = enabled();
    if (browserDeclines) {
      toggle.disabled = true;
      $("monitor-note").textContent = "Your browser asks sites not to track you (Global Privacy Control or Do Not Track), so nothing is counted or sent.";
      return;
    }
    toggle.addEventListener("change", () => {
      store.set("consent", toggle.checked ? "yes" : "no");
      if (toggle.checked) {
        $("monitor-note").textContent = "Thank you. Counting starts again from your next visit.";
      } else {
        store.drop("outbox");
        store.drop("partial");
        runtime?.tell({ type: "monitor-stop" });
        $("monitor-note").textContent = "Nothing is counted or sent from this browser.";
        show();
      }
    });
  }

  return {
    receive,
    savedPartial: () => (enabled() ? JSON.stringify(store.get("partial", null)) : null),
    attach(started) {
      const first = runtime === null; // a retried boot attaches again: listen only once
      runtime = started;
      if (!settings) return;
      if (first) setUpToggle();
      show();
      if (!enabled()) {
        started.ready.then(() => started.tell({ type: "monitor-stop" }), () => {});
        return;
      }
      if (first) {
        addEventListener("pagehide", flushOnHide);
        document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && flushOnHide());
      }
      schedule();
    },
    api: {
      enabled,
      outbox: () => outbox().map((item) => item.summary),
      flush: sendNow,
    },
  };
}
