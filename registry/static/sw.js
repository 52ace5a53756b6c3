/* Service worker of the public pages (served at /sw.js so that it may answer for /v/…).
 *
 * It keeps copies of what an offline check needs — the trust list, the registry's keys, every status
 * list, the grading schemes and the /offline page with its script and stylesheet — refreshed on every
 * online visit. When opening /v/<id> fails or takes too long (no network, or a very slow one), it
 * answers with the /offline page, whose script verifies the label's signed data locally. Online,
 * pages come from the server, which stays authoritative.
 */
"use strict";
var CACHE = "carbon-label-offline-v1";
var SLOW_MS = 4000;
var SHELL = ["/offline?lang=zh", "/offline?lang=en", "/static/verify.css", "/static/offline.js",
             "/.well-known/jwks.json", "/trust-list"];

function refresh() {
  return caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, {cache: "no-store", credentials: "omit"}).then(function (r) { if (r.ok) return cache.put(url, r); });
    })).then(function () {
      return fetch("/status", {cache: "no-store", headers: {Accept: "application/json"}});
    }).then(function (r) { return r.ok ? r.json() : {lists: []}; }).then(function (index) {
      var urls = (index.lists || []).map(function (u) { return new URL(u, self.location.origin).pathname; });
      return Promise.all(urls.map(function (url) {
        return fetch(url, {cache: "no-store"}).then(function (r) { if (r.ok) return cache.put(url, r); });
      }));
    }).then(function () {
      return fetch("/api/v1/grading-schemes", {cache: "no-store"}).then(function (r) { return r.json(); });
    }).then(function (schemes) {
      return Promise.all((schemes.items || []).map(function (s) {
        var url = "/api/v1/grading-schemes/" + encodeURIComponent(s.id) + "/versions/" + encodeURIComponent(s.version);
        return fetch(url).then(function (r) { if (r.ok) return cache.put(url, r); });
      }));
    });
  }).catch(function () {});
}

self.addEventListener("install", function (event) {
  event.waitUntil(refresh().then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });
self.addEventListener("message", function (event) {
  if (event.data && event.data.refresh) event.waitUntil(refresh());
});

function shellFor(request) {
  var lang = /(^|[?&])lang=en/.test(new URL(request.url).search) ? "en"
    : /(^|[?&])lang=zh/.test(new URL(request.url).search) ? "zh"
    : ((self.navigator && self.navigator.language) || "en").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  return caches.match("/offline?lang=" + lang);
}

self.addEventListener("fetch", function (event) {
  var req = event.request, url = new URL(req.url);
  if (url.origin !== self.location.origin || req.method !== "GET") return;
  if (req.mode === "navigate" && url.pathname.indexOf("/v/") === 0) {
    event.respondWith(new Promise(function (resolve) {
      var settled = false;
      var timer = setTimeout(function () {
        shellFor(req).then(function (shell) { if (shell && !settled) { settled = true; resolve(shell); } });
      }, SLOW_MS);
      fetch(req).then(function (resp) {
        if (!settled) { settled = true; clearTimeout(timer); resolve(resp); }
      }, function () {
        clearTimeout(timer);
        shellFor(req).then(function (shell) {
          if (!settled) { settled = true; resolve(shell || Response.error()); }
        });
      });
    }));
    return;
  }
  var cached = url.pathname === "/trust-list" || url.pathname === "/.well-known/jwks.json" ||
      url.pathname.indexOf("/status/") === 0 || url.pathname.indexOf("/api/v1/grading-schemes") === 0 ||
      url.pathname === "/static/offline.js" || url.pathname === "/static/verify.css";
  if (!cached) return;
  // Network first (fresh status matters); the saved copy when there is none.
  event.respondWith(fetch(req).then(function (resp) {
    if (resp.ok) { var copy = resp.clone(); caches.open(CACHE).then(function (c) { c.put(url.pathname, copy); }); }
    return resp;
  }, function () {
    return caches.match(url.pathname).then(function (hit) { return hit || Response.error(); });
  }));
});
