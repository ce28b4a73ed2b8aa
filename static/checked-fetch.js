// staticml checked fetch, one module for the page (static/*.js) and its worker
// (wasm/worker.mjs): a download checked against the sha256 the build (or the site's plan) gave
// for it, refused with a reason a visitor can act on. The browser itself refuses a body that does
// not match `integrity`; a missing or malformed hash would make it skip the check, so such a
// file is refused here instead.

export const SHA256_INTEGRITY = /^sha256-[A-Za-z0-9+/]{43}=$/;

export function fileName(url) {
  return new URL(url).pathname.split("/").pop();
}

// An integrity-checked fetch only says "Failed to fetch"; ask the server what went wrong.
export async function diagnose(url, error, native = fetch) {
  if (navigator.onLine === false) return "this browser is offline. Reconnect, then try again";
  try {
    const probe = await native(url, { method: "HEAD", cache: "no-store" });
    if (!probe.ok) return `the server answered ${probe.status} ${probe.statusText}`.trim();
    return "its content does not match the hash in the build's manifest (the file was changed or truncated), so it was not used";
  } catch {
    return `${error.message} (is the server reachable?)`;
  }
}

// WebAssembly must come as application/wasm (the browser refuses to stream-compile it otherwise).
function checkType(url, response) {
  const type = (response.headers.get("content-type") || "").split(";")[0].trim();
  if (url.endsWith(".wasm") && type !== "application/wasm") {
    throw new Error(
      `${fileName(url)} was served as "${type || "no type"}", but WebAssembly must be served as ` +
        `"application/wasm". Configure the web server's MIME types (staticml serve does this).`,
    );
  }
}

// `url` (absolute) fetched with `integrity`, or an Error naming the file and saying why not.
// `native` is the fetch to use (the worker passes the browser's own), `input` what it is given
// (a Request keeps its method and headers), `init` its options.
export async function checkedFetch(url, integrity, { native = fetch, input = url, init = {} } = {}) {
  if (typeof integrity !== "string" || !SHA256_INTEGRITY.test(integrity)) {
    throw new Error(`Could not download ${fileName(url)}: there is no hash to check it against, so it was not used`);
  }
  let response;
  try {
    response = await native(input, { ...init, integrity });
  } catch (error) {
    throw new Error(`Could not download ${fileName(url)}: ${await diagnose(url, error, native)}`);
  }
  if (!response.ok) throw new Error(`Could not download ${fileName(url)}: the server answered ${response.status} ${response.statusText}`.trim());
  checkType(url, response);
  return response;
}

// `response` with a body that tells `onBytes` the size of each chunk as it is read.
export function metered(response, onBytes) {
  if (!response.body) return response;
  const meter = new TransformStream({
    transform(chunk, controller) {
      onBytes(chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(meter), { status: response.status, statusText: response.statusText, headers: response.headers });
}
