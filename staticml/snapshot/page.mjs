// Build-time helper page: makes the snapshot in a module worker, as the site's worker will load
// it, and publishes the outcome for the build (Playwright) to read.
window.staticmlSnapshot = new Promise((resolve) => {
  const worker = new Worker("worker.mjs", { type: "module" });
  worker.onmessage = (event) => resolve(event.data);
  worker.onerror = (event) => resolve({ error: event.message || "the snapshot worker failed to load" });
  fetch("plan.json")
    .then((response) => response.json())
    .then((plan) => worker.postMessage(plan));
});
