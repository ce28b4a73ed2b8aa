// Baseline 1: the same model and the same preprocessing (written in JavaScript) with
// onnxruntime-web on the page's main thread, no Python. Same API as a staticml page for the
// benchmark: window.staticml.ready and window.staticml.predict(record).
import * as ort from "./ort/ort.wasm.min.mjs";
import { features } from "./preprocess.mjs";

const plan = JSON.parse(document.getElementById("plan").textContent);
ort.env.wasm.wasmPaths = new URL("ort/", document.baseURI).href;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

async function start() {
  const session = await ort.InferenceSession.create(plan.model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const zeros = new ort.Tensor("float32", new Float32Array(plan.nFeatures), [1, plan.nFeatures]);
  await session.run({ [plan.input]: zeros });
  return session;
}

const ready = start();

async function predict(record) {
  const session = await ready;
  const input = new ort.Tensor("float32", Float32Array.from(features(record)), [1, plan.nFeatures]);
  const outputs = await session.run({ [plan.input]: input });
  const scores = outputs[plan.probabilities].data;
  const label = plan.classes[plan.classValues.indexOf(String(outputs[plan.label].data[0]))];
  return { label, probabilities: Object.fromEntries(plan.classes.map((name, i) => [name, scores[i]])) };
}

window.staticml = { ready: ready.then(() => ({ onnxruntime: ort.env.versions?.web })), predict };
document.body.dataset.state = "ready-pending";
ready.then(() => (document.body.dataset.state = "ready"));
