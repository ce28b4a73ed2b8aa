// staticml worker: boots Pyodide (the app's Python preprocessing, wasm/python.mjs) and
// onnxruntime-web (the model, wasm/model.mjs) off the main thread, then answers predictions.
//
// Every file it loads is checked against the sha256 its boot configuration gives, with the
// checked fetch the page uses too (static/checked-fetch.js), which the boot imports first.
//
// Its messages to and from the page (static/runtime.js) are listed in docs/architecture.md,
// "The worker's messages".

const STAGES = {
  download: "Downloading the runtimes",
  python: "Starting Python",
  packages: "Installing the app's Python code",
  model: "Loading the model",
};

// The build puts this script in its release's wasm/ folder, so the folder above is the one the
// release's page and the relative URLs of its configuration are in. Pages built before the boot
// configuration gave its `base` sent some of a shadow release's URLs unresolved; resolved
// against this script, its snapshot's ../../runtime/... became releases/runtime/..., a 404 page
// that Pyodide was given as the snapshot ("Snapshot has invalid magic number").
const RELEASE_FOLDER = new URL("../", self.location.href).href;

// What the boot sets up and the predictions use.
const state = {
  config: null,
  assets: new Map(), // every file the worker loads, by absolute URL: {size, integrity}
  parts: new Map(), // a file split under the hosts' per-file limit: its URL -> its parts' URLs
  shared: null, // static/checked-fetch.js, imported by the boot
  batch: null, // wasm/batch.mjs
  model: null, // wasm/model.mjs
  python: null,
  ort: null,
  session: null,
  queue: Promise.resolve(), // predictions and batches run one at a time, in order
  stage: "download",
  // Pyodide turns a failed download into "Program terminated with exit(1)"; keep the real cause.
  downloadFailure: null,
  bootStarted: 0,
  base: RELEASE_FOLDER, // what the configuration's relative URLs resolve against
};
const cancelled = new Set();
// onnxruntime-web may never settle after a failed download: that ends the boot at once.
// (Not Promise.withResolvers, which would raise the page's minimum versions: README, "Browsers".)
let failBoot;
const downloadFailed = new Promise((_, reject) => (failBoot = reject));
downloadFailed.catch(() => {});
// Files the boot can do without (the Python snapshot): their failure is handled where used.
const optional = new Set();
const progress = { loaded: 0, total: 0, lastPost: 0 };
// When each boot step ended, in ms since the boot message (the steps overlap: Python and the
// model load side by side), so the page and the benchmarks can see where the time goes.
const phases = {};

function phase(name) {
  phases[name] = performance.now() - state.bootStarted;
}

// A worker's violations fire here, not in the page: forward them so the page's console shows them.
self.addEventListener("securitypolicyviolation", (event) => {
  post("csp", { violation: { directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile } });
});

// Pyodide fetches some files in promises nothing awaits: a refused download is reported once,
// as the boot error, not a second time as an uncaught one.
self.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof BootError) event.preventDefault();
});

self.onmessage = (event) => {
  const message = event.data;
  const python = state.python;
  if (message.type === "boot") {
    boot(message.config);
  } else if (message.type === "predict") {
    state.queue = state.queue.then(() => predict(message.id, message.record));
  } else if (message.type === "batch") {
    state.queue = state.queue.then(() => batch(message.id, message.file));
  } else if (message.type === "cancel") {
    cancelled.add(message.id);
  } else if (message.type === "monitor-sent" && python?.monitoring) {
    post("monitor", { state: python.runtime.monitor_sent(JSON.stringify(message.ids)) });
  } else if (message.type === "rollout-noise") {
    state.queue = state.queue.then(() => rolloutNoise(message.id, message.summary, message.epsilon));
  } else if (message.type === "monitor-stop" && python) {
    python.runtime.monitor_stop();
    python.monitoring = false;
  }
};

function rolloutNoise(id, summary, epsilon) {
  try {
    if (!state.python) throw new Error("the runtime has not started");
    post("result", { id, result: state.python.runtime.rollout_noise(summary, epsilon) });
  } catch (error) {
    post("error", { id, error: describe(error, "monitor") });
  }
}

function post(type, body) {
  self.postMessage({ type, ...body });
}

function status(next, message) {
  if (next) state.stage = next;
  post("status", { stage: state.stage, message: message || STAGES[state.stage], loaded: progress.loaded, total: progress.total });
}

class BootError extends Error {
  constructor(message, stageName) {
    super(message);
    this.stage = stageName;
  }
}

// --- fetching: integrity, byte counting and MIME checks for every file the worker loads ------

// The configuration's URLs are relative to its release's page (`config.base`), not to this
// script: a shadow release's worker is started by another release's page.
function absoluteUrl(input) {
  return new URL(input instanceof Request ? input.url : String(input), state.base).href;
}

// The shared checked fetch, fetched with its integrity before it is imported; the import then
// reads the same immutable cached copy (as for every module below). It cannot check itself, so
// a failure here says less than the ones after it.
async function importShared(url) {
  const asset = url ? state.assets.get(url) : null;
  const response = asset ? await fetch(url, { integrity: asset.integrity }).catch(() => null) : null;
  const name = String(url).split("/").pop();
  const why = "it is missing, or it does not match the hash in the build's manifest, so it was not used";
  if (!response?.ok) throw new BootError(`Could not download ${name}: ${why}`, state.stage);
  await response.arrayBuffer();
  progress.loaded += asset.size;
  try {
    return await import(url);
  } catch (error) {
    throw new BootError(`Could not load ${name}: ${error.message}`, state.stage);
  }
}

function installFetch() {
  const native = self.fetch.bind(self);
  self.fetch = async (input, init) => {
    try {
      return await checkedFetch(native, input, init);
    } catch (error) {
      if (!optional.has(absoluteUrl(input))) {
        state.downloadFailure ??= error;
        failBoot(error);
      }
      throw error;
    }
  };
}

async function checkedFetch(native, input, init) {
  const url = absoluteUrl(input);
  const asset = state.assets.get(url);
  let response;
  try {
    response = asset ? await state.shared.checkedFetch(url, asset.integrity, { native, input, init }) : await native(input, init);
  } catch (error) {
    throw new BootError(asset ? error.message : `Could not download ${state.shared.fileName(url)}: ${error.message}`, state.stage);
  }
  if (!asset) return response;
  // WebAssembly compiled from the response itself, not from a copy, goes into Chromium's code
  // cache, so a repeat visit skips the compile. An integrity-checked body is complete by now.
  if (url.endsWith(".wasm")) {
    progress.loaded += asset.size;
    status();
    return response;
  }
  return state.shared.metered(response, counted);
}

// Boot progress: bytes as they arrive, told to the page at most every 100 ms.
function counted(bytes) {
  progress.loaded += bytes;
  const now = performance.now();
  if (now - progress.lastPost > 100) {
    progress.lastPost = now;
    status();
  }
}

// A listed file's bytes, refused unless they arrived whole: the checked fetch has refused an
// error status and a body that does not match the listed hash; the size is checked here too.
// A file the build split (the hosts' per-file limit) comes as its parts, fetched side by side,
// each one checked so, and joined.
async function fetchBytes(url) {
  const href = absoluteUrl(url);
  if (state.parts.has(href)) return joined(await Promise.all(state.parts.get(href).map(fetchBytes)));
  const asset = state.assets.get(href);
  const name = state.shared.fileName(href);
  if (!asset) throw new BootError(`Could not download ${name}: the build's manifest has no hash for it, so it was not used`, state.stage);
  const response = await self.fetch(href);
  if (!response.ok) throw new BootError(`Could not download ${name}: the server answered ${response.status} ${response.statusText}`.trim(), state.stage);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength !== asset.size) {
    throw new BootError(`Could not download ${name}: ${bytes.byteLength} bytes arrived, not the ${asset.size} the build's manifest lists`, state.stage);
  }
  return bytes;
}

function joined(parts) {
  const whole = new Uint8Array(parts.reduce((size, part) => size + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.byteLength;
  }
  return whole;
}

// `import()` takes no integrity: fetch each module with it first (refusing a changed file by
// name), and import only once it matched; the import then reads the same immutable cached copy.
async function importVerified(url, dependencies = []) {
  const unlisted = [url, ...dependencies].find((module) => !state.assets.has(absoluteUrl(module)));
  if (unlisted) throw new BootError(`Could not load ${state.shared.fileName(absoluteUrl(unlisted))}: the build's manifest has no hash for it, so it was not loaded`, state.stage);
  await Promise.all([url, ...dependencies].map(fetchBytes));
  try {
    return await import(absoluteUrl(url));
  } catch (error) {
    throw new BootError(`Could not load ${state.shared.fileName(url)}: ${error.message}`, state.stage);
  }
}

// --- boot --------------------------------------------------------------------------------------

async function boot(bootConfig) {
  const config = (state.config = bootConfig);
  state.base = config.base || RELEASE_FOLDER;
  state.assets = new Map(Object.entries(config.assets).map(([url, meta]) => [absoluteUrl(url), meta]));
  state.parts = new Map(Object.entries(config.parts || {}).map(([url, parts]) => [absoluteUrl(url), parts.map(absoluteUrl)]));
  progress.total = [...state.assets.values()].reduce((sum, meta) => sum + meta.size, 0);
  state.bootStarted = performance.now();
  try {
    status("download");
    state.shared = await importShared(config.modules?.fetch && absoluteUrl(config.modules.fetch));
    installFetch();
    if (config.samples) optional.add(absoluteUrl(config.samples)); // only for the rehearsal
    const { modules } = config;
    const imported = Promise.all([modules.python, modules.model, modules.batch].map((url) => importVerified(url)));
    const [python, model, batchModule] = await Promise.race([imported, downloadFailed]);
    state.model = model;
    state.batch = batchModule;
    const context = bootContext();
    const booted = Promise.all([python.bootPython(context), model.bootModel(context)]);
    const [started, loaded] = await Promise.race([booted, downloadFailed]);
    Object.assign(state, { python: started.python, ort: loaded.ort, session: loaded.session });
    await Promise.race([python.rehearse(context, state.python, (prepared) => modelOutputs(prepared, 1)), downloadFailed]);
    phase("warmedUp");
    progress.loaded = progress.total;
    phase("ready");
    post("ready", {
      info: { ...started.info, ...loaded.info, bootMs: phases.ready, phases, crossOriginIsolated: self.crossOriginIsolated },
    });
  } catch (error) {
    const cause = state.downloadFailure || error;
    post("error", { id: null, error: describe(explain(cause), cause.stage || state.stage) });
  }
}

// What the boot modules (wasm/python.mjs, wasm/model.mjs) are given.
function bootContext() {
  return {
    config: state.config,
    absoluteUrl,
    fetchBytes,
    importVerified,
    fileName: (url) => state.shared.fileName(url),
    phase,
    status,
    optional,
    partsOf: (url) => state.parts.get(absoluteUrl(url)) || [absoluteUrl(url)],
    downloadFailure: () => state.downloadFailure,
    BootError,
  };
}

// Whatever broke first, some causes have one meaning for the visitor: say that.
function explain(error) {
  if (self.navigator.onLine === false && !/offline/.test(error.message)) {
    return new BootError(`this browser is offline (${error.message}). Reconnect, then try again.`, error.stage || state.stage);
  }
  return outOfMemory(error) || error;
}

// A wasm memory that cannot be reserved or grown surfaces as a RangeError (or an abort) whose
// wording varies; say what it means for the visitor.
function outOfMemory(error) {
  const text = `${error?.name || ""} ${error?.message || error}`;
  if (!/out of memory|could not allocate memory|cannot allocate wasm memory|allocation failed/i.test(text)) return null;
  return new BootError(
    `the browser ran out of memory while starting the runtime (${error.message || error}). Close other tabs or apps, then try again; a device with more memory may be needed.`,
    error.stage || state.stage,
  );
}

// --- predict ---------------------------------------------------------------------------------

function ensureReady(id) {
  if (state.session && state.python) return true;
  post("error", { id, error: { message: "The runtime is not ready yet.", field: "", kind: "state" } });
  return false;
}

// The model's outputs for `rows` rows Python prepared (wasm/model.mjs).
function modelOutputs(prepared, rows) {
  return state.model.modelOutputs(state, state.config.model, prepared, rows);
}

async function predict(id, record) {
  if (!ensureReady(id)) return;
  const started = performance.now();
  let prepared;
  try {
    prepared = state.python.prepare(record);
  } catch (error) {
    post("error", { id, error: describe(error, "preprocess") });
    return;
  }
  if (prepared.error) {
    post("error", { id, error: prepared.error });
    return;
  }
  const preprocessed = performance.now();
  const model = state.config.model;
  try {
    const [labels, values] = await modelOutputs(prepared, 1);
    const done = performance.now();
    // Python turns the outputs into the prediction (staticml.runtime.prediction) and counts it.
    const { monitor, ...prediction } = state.python.runtime.predicted(labels, values);
    const result = { model: { sha256: model.sha256, kind: model.kind, classes: model.classes }, ...prediction };
    result.timings = { preprocessMs: preprocessed - started, inferenceMs: done - preprocessed, totalMs: done - started };
    post("result", { id, result });
    if (monitor) post("monitor", { state: monitor });
  } catch (error) {
    post("error", { id, error: describe(error, "inference") });
  }
}

// --- batch: a CSV file streamed through Python and the model (wasm/batch.mjs) ------------------

function batch(id, file) {
  if (!ensureReady(id)) return;
  const job = state.python.runtime.csv_job();
  const regression = state.config.model.kind === "regression";
  return state.batch.scoreCsv(id, file, { job, modelOutputs, post, describe, cancelled, regression });
}

function describe(error, stageName) {
  let message = error && error.message ? error.message : String(error);
  if (error && error.type && message.startsWith("Traceback")) {
    // A Python exception: the page gets its last line; the traceback goes to the console.
    console.error(message);
    message = message.trim().split("\n").pop();
  }
  return { message, field: "", kind: "runtime", stage: stageName };
}
