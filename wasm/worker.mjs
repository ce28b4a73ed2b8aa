// staticml worker: boots Pyodide (the app's Python preprocessing) and onnxruntime-web (the
// model) off the main thread, then answers predictions.
//
// Protocol (all messages are plain objects with a `type`):
//   page → worker  {type: "boot", config}            config = the page config's `runtime` part
//                  {type: "predict", id, record}
//                  {type: "batch", id, file}         file = a File/Blob holding CSV text
//                  {type: "cancel", id}              stops a running batch
//                  {type: "monitor-sent", ids}       these summaries were handed over for delivery
//                  {type: "monitor-stop"}            the visitor opted out: stop counting
//                  {type: "rollout-noise", id, summary, epsilon}  a rollout summary (JSON text) to add local-DP noise to
//   worker → page  {type: "status", stage, message, loaded, total}   during boot
//                  {type: "ready", info}                             once, when predictions work;
//                                                    info.phases: ms from boot to each step's end
//                  {type: "result", id, result}      predict: {label, probabilities, model, timings}
//                                                    (regressors: {value, model, timings});
//                                                    batch: {csv: Blob, rows, scored, errorCount, errors}
//                  {type: "progress", id, rows, scored, errorCount, bytes, totalBytes}   during a batch
//                  {type: "monitor", state}          JSON text: unsent summaries and partial counts
//                  {type: "csp", violation}          a Content Security Policy violation in the worker
//                                                    (the page reports it in its console)
//                  {type: "error", id, error}                        error = {message, field, kind, stage}
//                  id is null for a boot failure; kind "cancelled" when a batch was cancelled.

const STAGES = {
  download: "Downloading the runtimes",
  python: "Starting Python",
  packages: "Installing the app's Python code",
  model: "Loading the model",
};

let config = null;
let assets = new Map(); // every file the worker loads, by absolute URL: {size, integrity}
let python = null;
let ort = null;
let session = null;
let queue = Promise.resolve();
const cancelled = new Set();
let stage = "download";
// Pyodide turns a failed download into "Program terminated with exit(1)"; keep the real cause.
// onnxruntime-web may never settle after one: a failed download ends the boot at once.
let downloadFailure = null;
let failBoot;
const downloadFailed = new Promise((resolve, reject) => (failBoot = reject));
downloadFailed.catch(() => {});
// Files the boot can do without (the Python snapshot): their failure is handled where used.
const optional = new Set();
const progress = { loaded: 0, total: 0, lastPost: 0 };
// When each boot step ended, in ms since the boot message (the steps overlap: Python and the
// model load side by side), so the page and the benchmarks can see where the time goes.
const phases = {};
let bootStarted = 0;

function phase(name) {
  phases[name] = performance.now() - bootStarted;
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
  if (message.type === "boot") {
    boot(message.config);
  } else if (message.type === "predict") {
    queue = queue.then(() => predict(message.id, message.record));
  } else if (message.type === "batch") {
    queue = queue.then(() => batch(message.id, message.file));
  } else if (message.type === "cancel") {
    cancelled.add(message.id);
  } else if (message.type === "monitor-sent" && python?.monitoring) {
    post("monitor", { state: python.runtime.monitor_sent(JSON.stringify(message.ids)) });
  } else if (message.type === "rollout-noise") {
    queue = queue.then(() => rolloutNoise(message.id, message.summary, message.epsilon));
  } else if (message.type === "monitor-stop" && python) {
    python.runtime.monitor_stop();
    python.monitoring = false;
  }
};

function rolloutNoise(id, summary, epsilon) {
  try {
    if (!python) throw new Error("the runtime has not started");
    post("result", { id, result: python.runtime.rollout_noise(summary, epsilon) });
  } catch (error) {
    post("error", { id, error: describe(error, "monitor") });
  }
}

function post(type, body) {
  self.postMessage({ type, ...body });
}

function status(next, message) {
  if (next) stage = next;
  post("status", { stage, message: message || STAGES[stage], loaded: progress.loaded, total: progress.total });
}

class BootError extends Error {
  constructor(message, stageName) {
    super(message);
    this.stage = stageName;
  }
}

// --- fetching: integrity, byte counting and MIME checks for every file the worker loads ------

function installFetch(assets) {
  const native = self.fetch.bind(self);
  self.fetch = async (input, init) => {
    try {
      return await checkedFetch(native, assets, input, init);
    } catch (error) {
      if (!optional.has(absoluteUrl(input))) {
        downloadFailure ??= error;
        failBoot(error);
      }
      throw error;
    }
  };
}

function absoluteUrl(input) {
  return new URL(input instanceof Request ? input.url : String(input), self.location.href).href;
}

async function checkedFetch(native, assets, input, init) {
  const url = absoluteUrl(input);
  const asset = assets.get(url);
  const options = asset ? { ...init, integrity: asset.integrity } : init;
  let response;
  try {
    response = await native(input, options);
  } catch (error) {
    const reason = asset ? await diagnose(native, url, error) : error.message;
    throw new BootError(`Could not download ${shortName(url)}: ${reason}`, stage);
  }
  if (!asset) return response;
  if (!response.ok) {
    throw new BootError(`Could not download ${shortName(url)}: the server answered ${response.status} ${response.statusText}`, stage);
  }
  checkMime(url, response);
  // WebAssembly compiled from the response itself, not from a copy, goes into Chromium's code
  // cache, so a repeat visit skips the compile. An integrity-checked body is complete by now.
  if (url.endsWith(".wasm")) {
    progress.loaded += asset.size;
    status();
    return response;
  }
  return counted(response);
}

// An integrity-checked fetch only says "Failed to fetch"; ask the server what went wrong.
async function diagnose(native, url, error) {
  if (self.navigator.onLine === false) return "this browser is offline. Reconnect, then try again";
  try {
    const probe = await native(url, { method: "HEAD", cache: "no-store" });
    if (!probe.ok) return `the server answered ${probe.status} ${probe.statusText}`.trim();
    return "its content does not match the hash in the build's manifest (the file was changed or truncated), so it was not used";
  } catch {
    return `${error.message} (is the server reachable?)`;
  }
}

function checkMime(url, response) {
  const type = (response.headers.get("content-type") || "").split(";")[0].trim();
  if (url.endsWith(".wasm") && type !== "application/wasm") {
    throw new BootError(
      `${shortName(url)} was served as "${type || "no type"}", but WebAssembly must be served as ` +
        `"application/wasm". Configure the web server's MIME types (staticml serve does this).`,
      stage,
    );
  }
}

function counted(response) {
  if (!response.body) return response;
  const meter = new TransformStream({
    transform(chunk, controller) {
      progress.loaded += chunk.byteLength;
      const now = performance.now();
      if (now - progress.lastPost > 100) {
        progress.lastPost = now;
        status();
      }
      controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(meter), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

async function fetchBytes(url) {
  const response = await self.fetch(url);
  return new Uint8Array(await response.arrayBuffer());
}

// `import()` takes no integrity: fetch each module with it first (refusing a changed file by
// name), and import only once it matched; the import then reads the same immutable cached copy.
async function importVerified(url, dependencies = []) {
  const unlisted = [url, ...dependencies].find((module) => !assets.has(absoluteUrl(module)));
  if (unlisted) throw new BootError(`Could not load ${shortName(absoluteUrl(unlisted))}: the build's manifest has no hash for it, so it was not loaded`, stage);
  await Promise.all([url, ...dependencies].map(fetchBytes));
  try {
    return await import(url);
  } catch (error) {
    throw new BootError(`Could not load ${shortName(url)}: ${error.message}`, stage);
  }
}

function shortName(url) {
  return new URL(url).pathname.split("/").pop();
}

// --- boot --------------------------------------------------------------------------------------

async function boot(bootConfig) {
  config = bootConfig;
  assets = new Map(Object.entries(config.assets).map(([url, meta]) => [new URL(url, self.location.href).href, meta]));
  progress.total = [...assets.values()].reduce((sum, meta) => sum + meta.size, 0);
  installFetch(assets);
  bootStarted = performance.now();
  try {
    status("download");
    const [pythonInfo, modelInfo] = await Promise.race([Promise.all([bootPython(), bootModel()]), downloadFailed]);
    progress.loaded = progress.total;
    phase("ready");
    post("ready", {
      info: { ...pythonInfo, ...modelInfo, bootMs: phases.ready, phases, crossOriginIsolated: self.crossOriginIsolated },
    });
  } catch (error) {
    const cause = downloadFailure || error;
    post("error", { id: null, error: describe(explain(cause), cause.stage || stage) });
  }
}

// Whatever broke first, some causes have one meaning for the visitor: say that.
function explain(error) {
  if (self.navigator.onLine === false && !/offline/.test(error.message)) {
    return new BootError(`this browser is offline (${error.message}). Reconnect, then try again.`, error.stage || stage);
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
    error.stage || stage,
  );
}

async function bootPython() {
  const wheels = Promise.all(config.wheels.map(fetchBytes));
  wheels.catch(() => {}); // awaited below, after Pyodide starts; a failure is reported there
  if (config.pyodide.snapshot) optional.add(config.pyodide.snapshot);
  const snapshot = config.pyodide.snapshot ? fetchBytes(config.pyodide.snapshot) : null;
  snapshot?.catch(() => {}); // a failed download is handled where it is awaited
  const { loadPyodide } = await importVerified(config.pyodide.module, [config.pyodide.asm]);
  phase("pyodideImported");
  const { pyodide, fromSnapshot } = await startPython(loadPyodide, snapshot);
  phase("interpreterReady");
  status("python");
  const buffers = await wheels;
  phase("wheelsFetched");
  status("packages");
  // Also after a snapshot: it holds the imported modules, but not the files they came from.
  for (const buffer of buffers) pyodide.unpackArchive(buffer, "wheel");
  const runtime = pyodide.pyimport("staticml.runtime.worker");
  runtime.start(JSON.stringify(config.python));
  const monitoring = Boolean(config.python.monitor);
  if (monitoring && config.monitorState) runtime.monitor_restore(config.monitorState);
  python = { pyodide, runtime, prepare: runtime.prepare, monitoring };
  phase("wheelsInstalled");
  return {
    pyodide: pyodide.version,
    python: pyodide.runPython("import sys; sys.version.split()[0]"),
    snapshot: fromSnapshot,
  };
}

// A memory snapshot made at build time with the app imported skips most of the interpreter's
// start; if it cannot be used (damaged, blocked, or made by another Pyodide), start normally.
async function startPython(loadPyodide, snapshot) {
  const options = {
    indexURL: config.pyodide.indexURL,
    packages: [],
    stdout: (text) => console.log(text),
    stderr: (text) => console.warn(text),
  };
  if (snapshot) {
    try {
      // The promise, not its bytes: the snapshot downloads while Pyodide fetches its wasm.
      return { pyodide: await loadPyodide({ ...options, _loadSnapshot: snapshot }), fromSnapshot: true };
    } catch (error) {
      if (downloadFailure) throw error; // another file failed: that is the cause
      console.warn(`staticml: the Python snapshot could not be used (${error.message}); starting Python normally.`);
    }
  }
  return { pyodide: await loadPyodide(options), fromSnapshot: false };
}

async function bootModel() {
  const [module, wasmBinary, model] = await Promise.all([
    importVerified(config.ort.module, [config.ort.glue]),
    fetchBytes(config.ort.wasm),
    fetchBytes(config.model.url),
  ]);
  ort = module;
  phase("modelFetched");
  // Given as bytes: onnxruntime-web's own streaming fetch would log its failure a second time
  // (and retry) when the checked fetch refuses the file; its compile is short either way.
  ort.env.wasm.wasmPaths = new URL(config.ort.wasmPaths, self.location.href).href;
  ort.env.wasm.wasmBinary = wasmBinary;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? config.ort.threads : 1;
  ort.env.wasm.proxy = false;
  status("model");
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    phase("sessionCreated");
    // The first run allocates and plans; do it now rather than on the visitor's first drawing.
    const zeros = new ort.Tensor("float32", new Float32Array(config.model.nFeatures), [1, config.model.nFeatures]);
    await session.run({ [config.model.input]: zeros });
    phase("firstRun");
  } catch (error) {
    throw new BootError(`onnxruntime-web could not load the model: ${error.message}`, "model");
  }
  return { onnxruntime: config.ort.version, threads: ort.env.wasm.numThreads };
}

// --- predict ---------------------------------------------------------------------------------

function ensureReady(id) {
  if (session && python) return true;
  post("error", { id, error: { message: "The runtime is not ready yet.", field: "", kind: "state" } });
  return false;
}

// The model's outputs for `rows` rows of features, as its tensors hold them: [labels, the
// probabilities row by row] for a classifier, [null, the values] for a regressor.
async function modelOutputs(features, rows) {
  const model = config.model;
  const input = new ort.Tensor("float32", features, [rows, model.nFeatures]);
  const outputs = await session.run({ [model.input]: input });
  if (model.kind === "regression") return [null, outputs[model.value].data];
  return [outputs[model.label].data, outputs[model.probabilities].data];
}

async function predict(id, record) {
  if (!ensureReady(id)) return;
  const started = performance.now();
  let prepared;
  try {
    prepared = python.prepare(record);
  } catch (error) {
    post("error", { id, error: describe(error, "preprocess") });
    return;
  }
  if (prepared.error) {
    post("error", { id, error: prepared.error });
    return;
  }
  const preprocessed = performance.now();
  const model = config.model;
  try {
    const [labels, values] = await modelOutputs(prepared.features, 1);
    const done = performance.now();
    // Python turns the outputs into the prediction (staticml.runtime.prediction) and counts it.
    const { monitor, ...prediction } = python.runtime.predicted(labels, values);
    const result = { model: { sha256: model.sha256, kind: model.kind, classes: model.classes }, ...prediction };
    result.timings = { preprocessMs: preprocessed - started, inferenceMs: done - preprocessed, totalMs: done - started };
    post("result", { id, result });
    if (monitor) post("monitor", { state: monitor });
  } catch (error) {
    post("error", { id, error: describe(error, "inference") });
  }
}

// --- batch: a CSV file streamed through Python and the model, chunk by chunk ---------------------

function byteCounter(onBytes) {
  return new TransformStream({
    transform(chunk, controller) {
      onBytes(chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
}

async function batch(id, file) {
  if (!ensureReady(id)) return;
  let bytes = 0;
  const reader = file.stream().pipeThrough(byteCounter((n) => (bytes += n))).pipeThrough(new TextDecoderStream()).getReader();
  const job = python.runtime.csv_job();
  const parts = [];
  let totals = { rows: 0, scored: 0, errorCount: 0, errors: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      await nextTask(); // reads and model runs settle as microtasks: let "cancel" messages in
      if (cancelled.has(id)) {
        // Not awaited: cancelling a piped stream need not settle, and the page must hear now.
        reader.cancel().catch(() => {});
        post("error", { id, error: { message: "The batch was cancelled.", field: "", kind: "cancelled" } });
        return;
      }
      const prepared = job.feed(done ? "" : value, done);
      if (prepared.error) {
        post("error", { id, error: prepared.error });
        return;
      }
      const [labels, values] = prepared.count ? await modelOutputs(prepared.features, prepared.count) : [null, new Float32Array(0)];
      totals = job.complete(config.model.kind === "regression" ? null : labels || [], values);
      parts.push(totals.csv);
      if (totals.monitor) post("monitor", { state: totals.monitor });
      post("progress", { id, rows: totals.rows, scored: totals.scored, errorCount: totals.errorCount, bytes, totalBytes: file.size });
      if (done) break;
    }
    const { rows, scored, errorCount, errors } = totals;
    post("result", { id, result: { csv: new Blob(parts, { type: "text/csv" }), rows, scored, errorCount, errors } });
  } catch (error) {
    post("error", { id, error: describe(error, "batch") });
  } finally {
    cancelled.delete(id);
    job.destroy();
  }
}

function nextTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
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
