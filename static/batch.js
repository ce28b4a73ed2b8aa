// staticml CSV batch: a file dropped or chosen on the page is scored in the worker, row by row,
// with progress and a cancel button; the predictions come back as a CSV to download. Nothing
// is uploaded.

const $ = (id) => document.getElementById(id);

// `predictFile(file, {onProgress, signal})` is the runtime's, as it is when asked.
export function setUpBatch(predictFile) {
  const input = $("batch-file");
  const drop = $("batch-drop");
  const cancel = $("batch-cancel");
  const progress = $("batch-progress");
  let controller = null;

  async function score(file) {
    if (!file || controller) return;
    controller = new AbortController();
    cancel.hidden = false;
    progress.hidden = false;
    progress.value = 0;
    $("batch-status").textContent = `Scoring ${file.name}…`;
    $("batch-errors").replaceChildren();
    $("batch-download").hidden = true;
    const onProgress = (p) => {
      progress.value = p.totalBytes ? p.bytes / p.totalBytes : 0;
      $("batch-status").textContent = `Scoring ${file.name}: ${p.rows.toLocaleString()} rows read, ${p.errorCount.toLocaleString()} with errors.`;
    };
    try {
      const result = await predictFile(file, { onProgress, signal: controller.signal });
      showBatchResult(file, result);
    } catch (error) {
      $("batch-status").textContent = error.kind === "cancelled" ? "Cancelled; nothing was saved." : `The file could not be scored: ${error.message}`;
    } finally {
      controller = null;
      cancel.hidden = true;
      progress.hidden = true;
      input.value = "";
    }
  }

  input.addEventListener("change", () => score(input.files[0]));
  cancel.addEventListener("click", () => controller?.abort());
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("dragging");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("dragging");
    if (document.body.dataset.state === "ready") score(event.dataTransfer.files[0]);
  });
}

function showBatchResult(file, result) {
  const link = $("batch-download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(result.csv);
  link.download = file.name.replace(/(\.csv)?$/i, "-predictions.csv");
  link.hidden = false;
  $("batch-status").textContent =
    `${result.rows.toLocaleString()} rows: ${result.scored.toLocaleString()} scored, ${result.errorCount.toLocaleString()} with errors (kept in the file, with the reason).`;
  const list = $("batch-errors");
  for (const [row, message] of result.errors.slice(0, 100)) {
    const item = document.createElement("li");
    item.textContent = `Row ${row}: ${message}`;
    list.append(item);
  }
  if (result.errorCount > 100) {
    const more = document.createElement("li");
    more.textContent = `… and ${(result.errorCount - 100).toLocaleString()} more, listed in the downloaded file.`;
    list.append(more);
  }
}
