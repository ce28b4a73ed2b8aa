// Runs each model variant of a build in onnxruntime-web (plain wasm, one thread, as the page
// does) on the evaluation rows, one row per call, and returns every output and the median
// time of one call; then again in each of the plan's chunkings (batches of row indexes, one
// call per batch), returning every row's outputs in row order. Driven by
// staticml/stages/browser.py through `window.staticmlBench`.
import * as ort from "./ort/ort.wasm.min.mjs";

ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

function plain(value) {
  return typeof value === "bigint" ? Number(value) : value;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function runVariant(variant, plan, features) {
  const session = await ort.InferenceSession.create(
    new Uint8Array(await (await fetch(variant.url)).arrayBuffer()),
    { executionProviders: ["wasm"] },
  );
  const width = plan.nFeatures;
  const outputs = Object.fromEntries(plan.outputs.map((name) => [name, []]));
  const times = [];
  const batches = {};
  try {
    for (let row = 0; row < plan.rows; row++) {
      const input = new ort.Tensor("float32", features.slice(row * width, (row + 1) * width), [1, width]);
      const started = performance.now();
      const result = await session.run({ [plan.input]: input });
      times.push(performance.now() - started);
      for (const name of plan.outputs) outputs[name].push(Array.from(result[name].data, plain));
    }
    for (const chunking of plan.chunkings) {
      try {
        batches[chunking.name] = await runBatches(session, plan, features, chunking);
      } catch (error) {
        throw new Error(`scoring rows in batches (${chunking.name}): ${error?.message ?? error}`);
      }
    }
  } finally {
    await session.release();
  }
  return { name: variant.name, outputs, latencyMs: median(times), batches };
}

async function runBatches(session, plan, features, chunking) {
  const width = plan.nFeatures;
  const rows = Object.fromEntries(plan.outputs.map((name) => [name, new Array(plan.rows)]));
  for (const indexes of chunking.batches) {
    const input = new Float32Array(indexes.length * width);
    indexes.forEach((row, i) => input.set(features.subarray(row * width, (row + 1) * width), i * width));
    const result = await session.run({ [plan.input]: new ort.Tensor("float32", input, [indexes.length, width]) });
    for (const name of plan.outputs) {
      const values = Array.from(result[name].data, plain);
      const each = values.length / indexes.length;
      indexes.forEach((row, i) => { rows[name][row] = values.slice(i * each, (i + 1) * each); });
    }
  }
  return rows;
}

async function run(plan) {
  const features = new Float32Array(await (await fetch(plan.features)).arrayBuffer());
  const results = [];
  for (const variant of plan.variants) {
    try {
      results.push(await runVariant(variant, plan, features));
    } catch (error) {
      results.push({ name: variant.name, error: String(error?.message ?? error) });
    }
  }
  return results;
}

window.staticmlBench = { run, version: ort.env.versions?.web ?? "" };
