// staticml worker, Python: starts Pyodide (from the build's memory snapshot when it can),
// installs the app's wheels, imports its preprocessing, and rehearses it on a sample.
//
// `boot` is what wasm/worker.mjs gives every boot module: the configuration, its checked
// downloads (`fetchBytes`, `importVerified`), progress (`phase`, `status`) and `BootError`.

// The name static/shadow.js gives a shadow release's worker (its warnings say so).
const SHADOW_WORKER = "staticml-shadow";

export async function bootPython(boot) {
  const { config, absoluteUrl } = boot;
  const wheels = Promise.all(config.wheels.map(boot.fetchBytes));
  wheels.catch(() => {}); // awaited below, after Pyodide starts; a failure is reported there
  if (config.pyodide.snapshot) for (const file of boot.partsOf(config.pyodide.snapshot)) boot.optional.add(file);
  const snapshot = config.pyodide.snapshot ? fetchSnapshot(boot, config.pyodide.snapshot) : null;
  snapshot?.catch(() => {}); // a failed download is handled where it is awaited
  const { loadPyodide } = await boot.importVerified(config.pyodide.module, [config.pyodide.asm]);
  boot.phase("pyodideImported");
  const { pyodide, fromSnapshot, snapshotError } = await startPython(boot, loadPyodide, snapshot);
  boot.phase("interpreterReady");
  boot.status("python");
  const buffers = await wheels;
  boot.phase("wheelsFetched");
  boot.status("packages");
  // Also after a snapshot: it holds the imported modules, but not the files they came from.
  for (const buffer of buffers) pyodide.unpackArchive(buffer, "wheel");
  const runtime = pyodide.pyimport("staticml.runtime.worker");
  runtime.start(JSON.stringify(config.python));
  const monitoring = Boolean(config.python.monitor);
  if (monitoring && config.monitorState) runtime.monitor_restore(config.monitorState);
  boot.phase("wheelsInstalled");
  const info = {
    pyodide: pyodide.version,
    python: pyodide.runPython("import sys; sys.version.split()[0]"),
    snapshot: fromSnapshot,
    snapshotUrl: fromSnapshot ? absoluteUrl(config.pyodide.snapshot) : null,
    snapshotError, // why a configured snapshot was not used, or null
  };
  return { python: { pyodide, runtime, prepare: runtime.prepare, monitoring }, info };
}

// Pyodide's snapshot starts with this 32-bit number (little-endian; API.restoreSnapshot in
// pyodide.asm.mjs), whose own refusal says only "Snapshot has invalid magic number".
const SNAPSHOT_MAGIC = 0x706e7300;

// The snapshot's bytes, refused with what came instead when they are not a Pyodide snapshot.
async function fetchSnapshot(boot, url) {
  const bytes = await boot.fetchBytes(url);
  const magic = bytes.byteLength >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) : null;
  if (magic !== SNAPSHOT_MAGIC) {
    const start = String.fromCharCode(...bytes.subarray(0, 16)).replace(/[^\x20-\x7e]/g, "?");
    const what = bytes.byteLength ? `its ${bytes.byteLength} bytes start with "${start}"` : "it is empty";
    throw new boot.BootError(`${boot.fileName(boot.absoluteUrl(url))} is not a Pyodide memory snapshot (${what}); rebuild the release`);
  }
  return bytes;
}

// A memory snapshot made at build time with the app imported skips most of the interpreter's
// start; if it cannot be used (damaged, blocked, or made by another Pyodide), start normally.
async function startPython(boot, loadPyodide, snapshot) {
  const { config, absoluteUrl } = boot;
  const options = {
    indexURL: absoluteUrl(config.pyodide.indexURL),
    packages: [],
    stdout: (text) => console.log(text),
    stderr: (text) => console.warn(text),
  };
  let snapshotError = null;
  if (snapshot) {
    try {
      const { default: createModule } = await import(absoluteUrl(config.pyodide.asm));
      const createPyodideModule = async (settings) => ownTrampoline(await createModule(settings), await snapshot);
      // The promise, not its bytes: the snapshot downloads while Pyodide fetches its wasm.
      const pyodide = await loadPyodide({ ...options, _loadSnapshot: snapshot, createPyodideModule });
      console.info(`staticml: Python started from the snapshot ${new URL(absoluteUrl(config.pyodide.snapshot)).pathname}.`);
      return { pyodide, fromSnapshot: true, snapshotError };
    } catch (error) {
      if (boot.downloadFailure()) throw error; // another file failed: that is the cause
      snapshotError = error.message;
      const where = new URL(absoluteUrl(config.pyodide.snapshot)).pathname;
      const whose = self.name === SHADOW_WORKER ? "the shadow release's" : "the";
      console.warn(`staticml: ${whose} Python snapshot ${where} could not be used (${error.message}); starting Python normally.`);
    }
  }
  return { pyodide: await loadPyodide(options), fromSnapshot: false, snapshotError };
}

// Python calls C function pointers through a trampoline that Pyodide's start-up adds to the
// wasm function table for this engine (getPyEMTrampolinePtr in pyodide.asm.mjs; 0, a JavaScript
// path, on an iPhone or where it does not compile) and whose table index it keeps in Python's
// runtime state. The index depends on what the engine's start-up put in the table before it, so
// a snapshot holds the index of the browser that made it (Chromium): Firefox, which like
// Chromium has JSPI, gets the same one, but in WebKitGTK 2.50, which has not, the index names
// another function ("call_indirect to a signature that does not match") and Python started
// without the snapshot, 9-12x slower. The snapshot's memory is given this engine's own index
// before Pyodide restores it.
function ownTrampoline(module, snapshot) {
  const heap = module.HEAP32;
  if (typeof module.__PyRuntime !== "number" || typeof module.__PyEM_EMSCRIPTEN_TRAMPOLINE_OFFSET !== "number") {
    throw new Error(`Pyodide ${module.API?.version} does not say where its call trampoline is; staticml cannot adapt the snapshot to this browser`);
  }
  const slot = module.__PyRuntime + heap[module.__PyEM_EMSCRIPTEN_TRAMPOLINE_OFFSET >>> 2];
  const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
  const memoryStart = view.getUint32(4, true); // the snapshot's header, then the memory (API.makeSnapshot)
  view.setInt32(memoryStart + slot, heap[slot >>> 2], true);
  return module;
}

// --- the rehearsal: the first prediction after `ready` as fast as the next ones -----------------

// Rehearsals of the hot path (record in, features, model, prediction out) at boot. The first
// run of Python code after a start pays for the engine compiling the interpreter's wasm
// functions it reaches and for Python's own first-use caches. One rehearsal brought the first
// prediction after ready to the warm ones' time (bench/results.md, `boot`).
const REHEARSALS = 1;

// Rehearses the prediction of the first shipped sample, as the page would send it (an image
// drawn on its canvas), `REHEARSALS` times; `runModel(prepared)` runs the model on Python's
// features. Nothing is counted by the monitor. The samples file is checked like every other,
// but the runtime does not need it: when it is refused (the page says so, it loads it too) or
// its sample fails (it fails the same way when the visitor picks it), the boot goes on.
export async function rehearse(boot, python, runModel) {
  if (!boot.config.samples) return;
  try {
    const text = new TextDecoder().decode(await boot.fetchBytes(boot.config.samples));
    const first = JSON.parse(text).samples?.[0];
    if (!first) return;
    const record = asSent(first.record, boot.config.python.fields);
    for (let i = 0; i < REHEARSALS; i++) {
      const prepared = python.prepare(record);
      if (prepared.error) return;
      const [labels, values] = await runModel(prepared);
      python.runtime.rehearsed(labels, values);
    }
  } catch (error) {
    console.info(`staticml: the boot's rehearsal of a sample did not run (${error.message}).`);
  }
}

// A sample's record as the page sends it: each image drawn at 80% of its field's canvas (as
// static/inputs.js draws a sample), its ink as a Uint8ClampedArray of the canvas's pixels.
function asSent(record, fields) {
  const sent = { ...record };
  for (const field of fields) {
    const image = record[field.name];
    if (field.type === "image" && field.canvasSize && image?.pixels) sent[field.name] = drawn(image, field.canvasSize);
  }
  return sent;
}

function drawn(image, size) {
  const scale = (size * 0.8) / Math.max(image.width, image.height);
  const [left, top] = [(size - image.width * scale) / 2, (size - image.height * scale) / 2];
  const pixels = new Uint8ClampedArray(size * size);
  for (let y = 0; y < size; y++) {
    const row = Math.floor((y - top) / scale);
    if (row < 0 || row >= image.height) continue;
    for (let x = 0; x < size; x++) {
      const column = Math.floor((x - left) / scale);
      if (column >= 0 && column < image.width) pixels[y * size + x] = image.pixels[row * image.width + column];
    }
  }
  return { width: size, height: size, pixels };
}
