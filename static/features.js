// staticml features: what the browser must have for the runtimes to start, checked before the
// page downloads them, so that an older engine is told what it lacks instead of failing later
// with a compile error, or hanging. The minimum versions are those in which each feature
// shipped (README, "Browsers"); the page needs the newest of them in each engine.

// A module using one SIMD instruction, the probe onnxruntime-web itself validates: its only
// wasm build is ort-wasm-simd-threaded.
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 30, 1, 28, 0, 65, 0, 253, 15, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 186, 1, 26, 11];
// A module with a tag and a try/catch_all: Pyodide's wasm is built with wasm exceptions.
const EXCEPTIONS_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 13, 3, 1, 0, 0, 10, 10, 1, 8, 0, 6, 64, 8, 0, 25, 11, 11];

export const FEATURES = {
  webassembly: { name: "WebAssembly", versions: "Chrome 57, Firefox 52, Safari 11" },
  simd: { name: "WebAssembly SIMD (onnxruntime-web's only build)", versions: "Chrome 91, Firefox 89, Safari 16.4" },
  exceptions: { name: "WebAssembly exception handling (Pyodide's build)", versions: "Chrome 95, Firefox 100, Safari 15.2" },
  bigint: { name: "WebAssembly BigInt integration and BigInt64Array (Pyodide)", versions: "Chrome 85, Firefox 78, Safari 15" },
  moduleWorkers: { name: "module workers (the prediction worker)", versions: "Chrome 80, Firefox 114, Safari 15" },
};

// The newest of the minimum versions above, per engine: the page's own minimum.
export const MINIMUM = "Chrome 95, Firefox 114 or Safari 16.4";

function validates(bytes) {
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

function bigIntIntegration() {
  try {
    new WebAssembly.Global({ value: "i64", mutable: true }, 0n);
    return typeof BigInt64Array === "function";
  } catch {
    return false;
  }
}

// The keys of FEATURES this browser lacks, of those that can be checked without a worker.
export function missingFeatures() {
  if (typeof WebAssembly !== "object") return ["webassembly"];
  const checks = { simd: () => validates(SIMD_PROBE), exceptions: () => validates(EXCEPTIONS_PROBE), bigint: bigIntIntegration };
  return Object.entries(checks)
    .filter(([, check]) => !check())
    .map(([key]) => key);
}

// What the visitor reads when `missing` (keys of FEATURES) is not empty.
export function missingMessage(missing) {
  const lacks = missing.map((key) => `${FEATURES[key].name}: ${FEATURES[key].versions} or later`);
  return `This browser lacks what the model needs: ${lacks.join("; ")}. Update it, or open this page in ${MINIMUM} or later.`;
}

// Worker options whose `type` records that the browser read it: an engine without module
// workers ignores the option and would run the worker as a classic script, which fails on
// its first `import` with a message that names neither the cause nor a fix.
export function moduleWorkerOptions(name) {
  const seen = { type: false };
  const options = {
    name,
    get type() {
      seen.type = true;
      return "module";
    },
  };
  return { options, read: () => seen.type };
}
