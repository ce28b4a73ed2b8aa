// staticml page script: shows the UI at once, boots the runtime worker, and exposes
//   await window.staticml.ready           → runtime info, or rejects with a readable Error
//   await window.staticml.predict(record) → {label, probabilities, model, timings}
// A rejected prediction's Error has `field` naming the bad part of the record (e.g. "image.pixels").

const config = JSON.parse(document.getElementById("staticml-config").textContent);
const $ = (id) => document.getElementById(id);

// --- runtime: the worker behind promises ---------------------------------------------------

function absolute(url) {
  return new URL(url, document.baseURI).href;
}

function runtimeConfig(runtime) {
  return {
    ...runtime,
    pyodide: { ...runtime.pyodide, module: absolute(runtime.pyodide.module), indexURL: absolute(runtime.pyodide.indexURL) },
    ort: { ...runtime.ort, module: absolute(runtime.ort.module), wasmPaths: absolute(runtime.ort.wasmPaths), wasm: absolute(runtime.ort.wasm) },
    wheels: runtime.wheels.map(absolute),
    model: { ...runtime.model, url: absolute(runtime.model.url) },
    assets: Object.fromEntries(Object.entries(runtime.assets).map(([url, meta]) => [absolute(url), meta])),
  };
}

function startRuntime(onStatus) {
  const pending = new Map();
  let nextId = 1;
  let lastStage = "starting";
  let worker = null;
  let settle;
  const ready = new Promise((resolve, reject) => (settle = { resolve, reject }));
  const fail = (message, stage) => {
    const error = new Error(message);
    error.stage = stage || lastStage;
    settle.reject(error);
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
    worker?.terminate();
  };

  if (typeof WebAssembly !== "object") {
    fail("This browser cannot run WebAssembly, which the model needs. Use a current browser with WebAssembly enabled.", "check");
    return { ready, predict: () => ready };
  }
  try {
    worker = new Worker(absolute(config.worker), { type: "module", name: "staticml" });
  } catch (error) {
    fail(`Could not start the prediction worker: ${error.message}`, "worker");
    return { ready, predict: () => ready };
  }
  const seconds = Math.round(config.bootTimeoutMs / 1000);
  const timer = setTimeout(
    () => fail(`The runtime did not start within ${seconds} s (it was at: ${lastStage}). Check the browser console and that the server sends .wasm as application/wasm.`),
    config.bootTimeoutMs,
  );
  ready.then(() => clearTimeout(timer), () => clearTimeout(timer));

  worker.onerror = (event) => {
    event.preventDefault();
    fail(`The prediction worker could not start (${config.worker}): ${event.message || "its script failed to load"}. Check that .mjs files are served as text/javascript.`, "worker");
  };
  worker.onmessage = (event) => {
    const message = event.data;
    if (message.type === "status") {
      lastStage = message.message;
      onStatus(message);
    } else if (message.type === "ready") {
      settle.resolve(message.info);
    } else if (message.type === "result") {
      pending.get(message.id)?.resolve(message.result);
      pending.delete(message.id);
    } else if (message.type === "error" && message.id === null) {
      fail(message.error.message, message.error.stage);
    } else if (message.type === "error") {
      const error = new Error(message.error.field ? `Invalid record: ${message.error.message}` : message.error.message);
      error.field = message.error.field;
      error.kind = message.error.kind;
      pending.get(message.id)?.reject(error);
      pending.delete(message.id);
    }
  };
  worker.postMessage({ type: "boot", config: runtimeConfig(config.runtime) });

  async function predict(record) {
    await ready;
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      try {
        worker.postMessage({ type: "predict", id, record });
      } catch (error) {
        pending.delete(id);
        reject(new Error(`Invalid record: it cannot be sent to the worker (${error.message}). Use plain objects, arrays and numbers.`));
      }
    });
  }
  return { ready, predict };
}

// --- page: progress, drawing, samples, results ---------------------------------------------

const events = [];
const runtime = startRuntime(showStatus);
window.staticml = { ready: runtime.ready, predict: runtime.predict, config, events };

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

runtime.ready.then(
  (info) => {
    document.body.dataset.state = "ready";
    $("status-stage").textContent = "Ready.";
    $("status-bytes").textContent =
      `Python ${info.python} (Pyodide ${info.pyodide}) and onnxruntime-web ${info.onnxruntime}, started in ${(info.bootMs / 1000).toFixed(1)} s.`;
    $("status-bar").hidden = true;
    enableInputs(true);
  },
  (error) => {
    document.body.dataset.state = "failed";
    $("status-stage").textContent = "The runtime failed to start.";
    $("status-bytes").textContent = "";
    $("status-bar").hidden = true;
    showError(`Could not start the model: ${error.message}`);
  },
);

function enableInputs(enabled) {
  for (const element of document.querySelectorAll("[data-needs-runtime]")) element.disabled = !enabled;
}

function showResult(result, note = "") {
  $("result-label").textContent = result.label;
  $("result-note").textContent = note;
  const bars = $("bars");
  bars.replaceChildren();
  const ranked = Object.entries(result.probabilities);
  for (const [name, p] of ranked) {
    const row = document.createElement("li");
    row.className = name === result.label ? "bar top" : "bar";
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
    bars.append(row);
  }
  const t = result.timings;
  $("timings").textContent = `Preprocessing ${t.preprocessMs.toFixed(1)} ms (Python) · model ${t.inferenceMs.toFixed(1)} ms (onnxruntime-web) · in this browser, nothing sent.`;
  document.body.dataset.predicted = "yes";
}

function showProblem(error) {
  $("result-label").textContent = "–";
  $("result-note").textContent = error.message;
  $("bars").replaceChildren();
  $("timings").textContent = "";
}

// Drawing: pointer events cover mouse, pen and touch alike.
const imageField = config.fields.find((field) => field.type === "image");
const canvas = imageField ? $(`canvas-${imageField.name}`) : null;

function setUpCanvas() {
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const size = canvas.width;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.lineWidth = Math.max(4, Math.round(size / 14));
  context.strokeStyle = "#111";
  let drawing = false;
  let last = null;
  let inFlight = false;
  let dirty = false;

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
  const predictDrawing = async () => {
    if (inFlight) {
      dirty = true;
      return;
    }
    inFlight = true;
    dirty = false;
    try {
      showResult(await runtime.predict(canvasRecord()));
    } catch (error) {
      showProblem(error);
    } finally {
      inFlight = false;
      if (dirty && !drawing) predictDrawing();
    }
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
    predictDrawing();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("clear").addEventListener("click", () => {
    context.clearRect(0, 0, size, size);
    $("result-label").textContent = "–";
    $("result-note").textContent = "";
    $("bars").replaceChildren();
    $("timings").textContent = "";
  });

  function canvasRecord() {
    const rgba = context.getImageData(0, 0, size, size).data;
    const pixels = new Uint8ClampedArray(size * size);
    for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[i * 4 + 3];
    return { [imageField.name]: { width: size, height: size, pixels } };
  }

  return function drawImage(image) {
    const rgba = new Uint8ClampedArray(image.width * image.height * 4);
    image.pixels.forEach((value, i) => {
      rgba[i * 4 + 3] = value;
      rgba[i * 4] = rgba[i * 4 + 1] = rgba[i * 4 + 2] = 17;
    });
    const tile = new OffscreenCanvas(image.width, image.height);
    tile.getContext("2d").putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
    const scale = (size * 0.8) / Math.max(image.width, image.height);
    const w = image.width * scale;
    const h = image.height * scale;
    context.clearRect(0, 0, size, size);
    context.drawImage(tile, (size - w) / 2, (size - h) / 2, w, h);
  };
}

const drawSample = canvas ? setUpCanvas() : null;

function thumbnail(image) {
  const tile = document.createElement("canvas");
  tile.width = image.width;
  tile.height = image.height;
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  image.pixels.forEach((value, i) => {
    rgba.fill(255 - value, i * 4, i * 4 + 3);
    rgba[i * 4 + 3] = 255;
  });
  tile.getContext("2d").putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
  return tile;
}

function agreement(result, expected) {
  const deviation = Math.max(...Object.keys(expected.probabilities).map((k) => Math.abs(result.probabilities[k] - expected.probabilities[k])));
  const same = result.label === expected.label;
  return `CPython reference: ${expected.label}; ${same ? "same label" : "DIFFERENT label"}, largest probability difference ${deviation.toExponential(1)}.`;
}

async function loadSamples() {
  if (!config.samples || !imageField) {
    $("samples").hidden = true;
    return;
  }
  const response = await fetch(absolute(config.samples));
  const { samples } = await response.json();
  const list = $("sample-list");
  for (const sample of samples) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sample";
    button.title = sample.name;
    button.dataset.needsRuntime = "";
    button.disabled = document.body.dataset.state !== "ready";
    button.setAttribute("aria-label", `Sample: ${sample.name}`);
    button.append(thumbnail(sample.record[imageField.name]));
    button.addEventListener("click", async () => {
      drawSample(sample.record[imageField.name]);
      try {
        const result = await runtime.predict(sample.record);
        showResult(result, agreement(result, sample.expected));
      } catch (error) {
        showProblem(error);
      }
    });
    list.append(button);
  }
}

loadSamples().catch((error) => showError(`Could not load the samples: ${error.message}`));
