// staticml runtime client: the prediction worker (wasm/worker.mjs) behind promises. It fetches
// the worker's script with its integrity before starting it, boots it with the page's runtime
// configuration, and turns the worker's messages into status updates, results and errors.

import { checkedFetch } from "./checked-fetch.js";
import { missingFeatures, missingMessage, moduleWorkerOptions } from "./features.js";

export function absolute(url, base = document.baseURI) {
  return new URL(url, base).href;
}

// The runtime part of a page configuration with every URL made absolute, and the `base` its
// relative URLs belong to, which the worker resolves any other against (not its own script's
// URL). `base` is the page the configuration belongs to: this one, or a shadow release's
// (static/shadow.js).
export function runtimeConfig(runtime, base = document.baseURI) {
  const at = (url) => url && absolute(url, base);
  return {
    ...runtime,
    base: absolute(base),
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
    modules: Object.fromEntries(Object.entries(runtime.modules).map(([name, url]) => [name, at(url)])),
    wheels: runtime.wheels.map(at),
    model: { ...runtime.model, url: at(runtime.model.url) },
    samples: at(runtime.samples),
    assets: Object.fromEntries(Object.entries(runtime.assets).map(([url, meta]) => [at(url), meta])),
    parts: Object.fromEntries(Object.entries(runtime.parts || {}).map(([url, parts]) => [at(url), parts.map(at)])),
  };
}

// The page's own downloads (the worker script, the rollout module, the samples).
export function ownFile(config, path) {
  return checkedFetch(absolute(path), config.integrity?.[path]);
}

export function reportViolation(where, violation) {
  console.error(`Content Security Policy violation in the ${where}: ${violation.directive} blocked ${violation.blocked || "inline code"}${violation.source ? ` (${violation.source})` : ""}`);
}

// A record's error names its first bad field in `field`; `problems` lists every one ({field, message}).
function workerError(error) {
  const failure = new Error(error.field ? `Invalid record: ${error.message}` : error.message);
  failure.field = error.field;
  failure.kind = error.kind;
  failure.problems = error.problems || (error.field ? [{ field: error.field, message: error.message }] : []);
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

// Starts a worker for the page configuration `config`: {ready, predict, predictFile, noise, tell}.
export function startRuntime(config, { onStatus, onMonitor = () => {}, monitorState = null }) {
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

  const missing = missingFeatures();
  if (missing.length) {
    fail(missingMessage(missing), "check");
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

  ownFile(config, config.worker).then(
    () => {
      if (settled) return; // timed out meanwhile
      const { options, read } = moduleWorkerOptions("staticml");
      try {
        worker = new Worker(absolute(config.worker), options);
      } catch (error) {
        fail(`Could not start the prediction worker: ${error.message}`, "worker");
        return;
      }
      if (!read()) {
        fail(missingMessage(["moduleWorkers"]), "check");
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
    if (navigator.onLine === false) {
      fail(`This browser is offline, so the prediction worker could not start (${config.worker}). Reconnect, then try again.`, "worker");
      return;
    }
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
