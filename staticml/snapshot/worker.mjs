// Boots Pyodide with staticml's runtime (and the app's dependencies) installed and imported, then
// uploads the interpreter's memory (pyodide.makeMemorySnapshot, Pyodide's private snapshot API).
// The app's own package is not in it: the site's worker imports that at start.
//
// Everything the memory captures must depend only on the build's inputs, so this worker (and
// only this one: the site's worker uses the browser's own) gets a fixed clock and a fixed
// stream of "random" bytes before Pyodide loads. See staticml/stages/snapshot.py for what
// each of them reaches and how the site re-seeds what needs real entropy.
const FIXED_TIME_MS = Date.UTC(1980, 0, 1);

function pinEntropyAndClocks() {
  let state = 0x2545f491;
  const nextByte = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state & 0xff;
  };
  crypto.getRandomValues = (array) => {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = nextByte();
    return array;
  };
  Math.random = () => nextByte() / 256;
  Date.now = () => FIXED_TIME_MS;
  performance.now = () => 0;
}

self.onmessage = async ({ data: plan }) => {
  try {
    pinEntropyAndClocks();
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
