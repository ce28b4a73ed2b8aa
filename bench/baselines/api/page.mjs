// Baseline 3: the classic deployment. The page sends each record to a prediction endpoint
// (FastAPI, the same Python preprocessing and model in CPython onnxruntime) and shows the
// answer. Same API as a staticml page for the benchmark.
// A drawing's pixels come as a Uint8ClampedArray, which JSON writes as an object: send a list.
const plain = (key, value) => (ArrayBuffer.isView(value) ? Array.from(value) : value);

async function predict(record) {
  const response = await fetch("predict", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(record, plain),
  });
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  return response.json();
}

window.staticml = { ready: Promise.resolve({ server: true }), predict };
document.body.dataset.state = "ready";
