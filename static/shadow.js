// staticml shadow: another release of the site run beside this page's, in a worker of its own,
// on the same records (static/rollout.js counts how the two compare; docs/rollout.md).

import { SHA256_INTEGRITY, checkedFetch } from "./checked-fetch.js";
import { runtimeConfig } from "./runtime.js";

// As in static/router.js and staticml.rollout.plan: ids become URLs, so `..` never may.
const RELEASE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function isReleaseId(value) {
  return typeof value === "string" && RELEASE_ID.test(value);
}

// The shadow release's page configuration: its config.json, refused unless it is exactly the
// file the site's plan pins (the router carries the pin over in the assignment).
async function shadowConfig(base, pin) {
  if (typeof pin !== "string" || !SHA256_INTEGRITY.test(pin)) {
    throw new Error("the site's plan does not pin its config.json (run `staticml shadow RELEASE` again)");
  }
  try {
    return await (await checkedFetch(`${base}config.json`, pin)).json();
  } catch (error) {
    throw new Error(`its config.json is not the one the site's plan pins. ${error.message}`);
  }
}

// Started exactly as the primary worker is (static/runtime.js): its script, and the checked
// fetch module it imports first, fetched with the integrity its configuration gives before
// `new Worker` loads them from the cache; the worker then checks every file and module it loads
// against the same configuration. `root` is the site's root URL.
export async function startShadow(root, release, pin) {
  if (!isReleaseId(release)) throw new Error(`${JSON.stringify(release)} is not a release id`);
  const base = `${root}releases/${release}/`;
  const page = await shadowConfig(base, pin);
  const script = new URL(page.worker, base).href;
  await checkedFetch(script, page.integrity?.[page.worker]);
  const shared = page.runtime.modules?.fetch; // absent in releases built before it was shared
  if (shared) await checkedFetch(new URL(shared, base).href, page.runtime.assets[shared]?.integrity);
  const worker = new Worker(script, { type: "module", name: "staticml-shadow" });
  const pending = new Map();
  let nextId = 1;
  const ready = new Promise((resolve, reject) => {
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message || "the shadow worker failed to start"));
    };
    worker.onmessage = ({ data }) => {
      if (data.type === "ready") resolve(data.info);
      else if (data.type === "error" && data.id === null) reject(new Error(data.error.message));
      else if (data.type === "result" || data.type === "error") {
        pending.get(data.id)?.[data.type === "result" ? "resolve" : "reject"](data.result ?? data.error);
        pending.delete(data.id);
      }
    };
  });
  // The shadow's own drift counts are not kept.
  const runtime = { ...runtimeConfig(page.runtime, base), monitorState: null };
  worker.postMessage({ type: "boot", config: { ...runtime, python: { ...runtime.python, monitor: null } } });
  // What the shadow's worker says it started from, as the primary's `window.staticml.ready` does.
  const info = await ready;
  return {
    info,
    predict(record) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: "predict", id, record });
      });
    },
  };
}
