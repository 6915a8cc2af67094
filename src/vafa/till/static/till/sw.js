/* The till's service worker (scope /till/): the shell and the branch's offline cache from the network when it
   answers, from the cache when it does not. Writes (POST) always go to the network: offline purchases are
   queued by till.js in IndexedDB, never by the worker. */
const CACHE = "vafa-till-v2";
const SHELL = [
  "/static/till/till.js", "/static/till/till.css",
  "/static/vendor/htmx.org/dist/htmx.min.js", "/static/vendor/jsqr/dist/jsQR.js",
  "/static/vendor/bootstrap/dist/css/bootstrap.rtl.min.css",
  "/static/vendor/vazirmatn/Vazirmatn-font-face.css",
  "/till/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) cache.put(request, response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (hit) return hit;
    throw error;
  }
}

async function cacheFirst(request) {
  const hit = await caches.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) (await caches.open(CACHE)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) event.respondWith(cacheFirst(request));
  else if (url.pathname.startsWith("/till/")) event.respondWith(networkFirst(request));
});
