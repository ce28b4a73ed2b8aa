// staticml service worker: keeps this release's files so that repeat visits start from the
// device and the page works offline. The build prepends `const PRECACHE = {release, files}`,
// where files maps each URL (relative to this script) to its sha256 integrity.
//
// - install: fetch every file with its integrity (the browser refuses a body that does not
//   match the build's hash) and cache it; one failure fails the install, so a release is
//   cached whole or not at all;
// - activate: drop the caches of earlier releases, take control of open pages;
// - fetch: the release's files from the cache; pages from the network first, the cached page
//   when the network fails (offline); anything else straight to the network.

/* global PRECACHE */
const PREFIX = `staticml:${new URL("./", self.location.href).pathname}:`;
const CACHE = `${PREFIX}${PRECACHE.release}`;
const FILES = new Map(Object.entries(PRECACHE.files).map(([url, integrity]) => [new URL(url, self.location.href).href, integrity]));
const PAGE = new URL("./", self.location.href).href;
const PAGE_FILE = new URL("index.html", self.location.href).href;

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting(), notKept));
});

// The page is told why before the install fails (it says so: static/status.js); a release the
// storage had no room for is dropped whole, so that its part does not take the site's quota.
async function notKept(error) {
  const full = error?.name === "QuotaExceededError";
  if (full) await caches.delete(CACHE).catch(() => {});
  const reason = full ? "storage is full (this browser gives this site less room than the release needs)" : `caching the release failed (${error?.message || error})`;
  const pages = await self.clients.matchAll({ includeUncontrolled: true, type: "window" });
  for (const page of pages) page.postMessage({ type: "staticml:not-kept", reason });
  throw error;
}

async function precache() {
  const cache = await caches.open(CACHE);
  await Promise.all(
    [...FILES].map(async ([url, integrity]) => {
      if (await cache.match(url)) return;
      // The page is revalidated (it is not content-addressed); hashed files may come from the HTTP cache.
      const response = await fetch(url, { integrity, cache: url === PAGE_FILE ? "no-cache" : "default" });
      if (!response.ok) throw new Error(`${url}: ${response.status}`);
      await cache.put(url, response);
    }),
  );
}

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = request.url.split("#")[0];
  if (request.mode === "navigate" && (url === PAGE || url === PAGE_FILE)) {
    event.respondWith(networkFirst(request));
  } else if (FILES.has(url)) {
    event.respondWith(cacheFirst(request, url));
  }
});

async function cacheFirst(request, url) {
  const cached = await caches.open(CACHE).then((cache) => cache.match(url));
  return cached || fetch(request);
}

async function networkFirst(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cached = await caches.open(CACHE).then((cache) => cache.match(PAGE_FILE));
    if (cached) return cached;
    throw error;
  }
}
