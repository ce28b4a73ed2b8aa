// staticml serve --watch: a service worker that caches nothing, in place of the build's, so
// that the page and its files always come from the latest build.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
