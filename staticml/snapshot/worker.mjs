// Boots Pyodide with the site's wheels installed and the app's modules imported, then uploads
// the interpreter's memory (pyodide.makeMemorySnapshot, Pyodide's private snapshot API).
self.onmessage = async ({ data: plan }) => {
  try {
    const { loadPyodide } = await import(plan.module);
    const pyodide = await loadPyodide({
      indexURL: plan.indexURL,
      packages: [],
      env: { PYTHONHASHSEED: "0" },
      _makeSnapshot: true,
    });
    for (const url of plan.wheels) {
      const response = await fetch(url);
      pyodide.unpackArchive(new Uint8Array(await response.arrayBuffer()), "wheel");
    }
    pyodide.runPython(plan.modules.map((name) => `import ${name}`).join("\n"));
    const snapshot = pyodide.makeMemorySnapshot();
    const upload = await fetch(plan.upload, { method: "POST", body: snapshot });
    self.postMessage(upload.ok ? { size: snapshot.byteLength } : { error: `upload failed: ${upload.status}` });
  } catch (error) {
    self.postMessage({ error: String((error && error.stack) || error) });
  }
};
