// staticml worker's CSV batch: a file streamed through Python (staticml.runtime.table, which
// reads the rows and writes the predictions) and the model, chunk by chunk, with progress, until
// it ends or the page cancels it. Imported by wasm/worker.mjs at boot, checked like its runtimes.

function byteCounter(onBytes) {
  return new TransformStream({
    transform(chunk, controller) {
      onBytes(chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
}

function nextTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// Scores `file` as batch `id`: `job` is Python's CSV job, `modelOutputs(prepared, rows)` runs
// the model on what it fed, `post(type, body)` answers the page, `describe(error, stage)` words an error, and
// `cancelled` holds the ids the page cancelled.
export async function scoreCsv(id, file, { job, modelOutputs, post, describe, cancelled, regression }) {
  let bytes = 0;
  const reader = file.stream().pipeThrough(byteCounter((n) => (bytes += n))).pipeThrough(new TextDecoderStream()).getReader();
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
      const [labels, values] = prepared.count ? await modelOutputs(prepared, prepared.count) : [null, new Float32Array(0)];
      totals = job.complete(regression ? null : labels || [], values);
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
