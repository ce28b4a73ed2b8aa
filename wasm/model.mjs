// staticml worker, the model: onnxruntime-web's wasm build and the model's session, and the
// tensors a prediction feeds it and reads back.
//
// `boot` is what wasm/worker.mjs gives every boot module (see wasm/python.mjs).

export async function bootModel(boot) {
  const { config, absoluteUrl } = boot;
  const [ort, wasmBinary, model] = await Promise.all([
    boot.importVerified(config.ort.module, [config.ort.glue]),
    boot.fetchBytes(config.ort.wasm),
    boot.fetchBytes(config.model.url),
  ]);
  boot.phase("modelFetched");
  // Given as bytes: onnxruntime-web's own streaming fetch would log its failure a second time
  // (and retry) when the checked fetch refuses the file; its compile is short either way.
  ort.env.wasm.wasmPaths = absoluteUrl(config.ort.wasmPaths);
  ort.env.wasm.wasmBinary = wasmBinary;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? config.ort.threads : 1;
  ort.env.wasm.proxy = false;
  boot.status("model");
  try {
    const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    boot.phase("sessionCreated");
    // The first run allocates and plans; do it now rather than on the visitor's first drawing.
    await session.run(modelFeeds(ort, config.model, warmUpInputs(config), 1));
    boot.phase("firstRun");
    const info = { onnxruntime: config.ort.version, threads: ort.env.wasm.numThreads, threadsUnavailable: threadsUnavailable(config.ort.threads) };
    return { ort, session, info };
  } catch (error) {
    throw new boot.BootError(`onnxruntime-web could not load the model: ${error.message}`, "model");
  }
}

// The model's tensors for `rows` rows Python prepared: one float32 [rows, nFeatures] tensor from
// `prepared.features`; or, for a model taking the record's fields, one [rows, 1] tensor per
// input from `prepared.columns` ({name, type, data}: a Float32Array, or an array of strings).
function modelFeeds(ort, model, prepared, rows) {
  if (!prepared.columns) return { [model.input]: new ort.Tensor("float32", prepared.features, [rows, model.nFeatures]) };
  return Object.fromEntries(prepared.columns.map(({ name, type, data }) => [name, new ort.Tensor(type === "string" ? "string" : "float32", data, [rows, 1])]));
}

// One row for the warm-up run: zeros; for a model taking the fields, each field's default or
// first choice (an encoder fitted to refuse unknown categories would refuse an empty one).
function warmUpInputs(config) {
  const { model, python } = config;
  if (!model.inputs?.length) return { features: new Float32Array(model.nFeatures) };
  const fields = new Map(python.fields.map((field) => [field.name, field]));
  const text = (field) => String(field?.default ?? field?.choices?.[0] ?? "");
  const columns = model.inputs.map(({ name, type }) => ({ name, type, data: type === "string" ? [text(fields.get(name))] : new Float32Array(1) }));
  return { columns };
}

// The model's outputs for `rows` rows Python prepared, as its tensors hold them: [labels, the
// probabilities row by row] for a classifier, [null, the values] for a regressor.
export async function modelOutputs({ ort, session }, model, prepared, rows) {
  const outputs = await session.run(modelFeeds(ort, model, prepared, rows));
  if (model.kind === "regression") return [null, outputs[model.value].data];
  return [outputs[model.label].data, outputs[model.probabilities].data];
}

// Why onnxruntime-web cannot have threads here (null when it can): SharedArrayBuffer needs a
// cross-origin isolated page, which only the host's COOP and COEP headers make.
function threadsUnavailable(wanted) {
  if (self.crossOriginIsolated) return null;
  const cost = wanted > 1 ? `the model runs on 1 thread instead of the ${wanted} of runtime.threads` : "the model runs on 1 thread, as runtime.threads = 1 asks";
  return `threads are unavailable: the page is not cross-origin isolated (its host sent no Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp headers), so ${cost}`;
}
