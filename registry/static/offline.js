/* Verifies an offline label's signed data on the phone, without network.
 *
 * An offline label's QR code opens <base>/v/<id>#1<digits>; the digits are the whole compact JWS
 * (docs/formats.md, "Offline QR payload"). Online, the server's page is the answer and this script
 * only keeps the service worker's copies of the trust list, the registry's keys, the status lists
 * and the grading scheme fresh. Offline (the service worker served the /offline page instead), it
 * unpacks the digits, checks the signature with WebCrypto against the cached trust list, and shows
 * the same verdicts as the server: valid, suspended, revoked, expired or not verified. Its words
 * come from the page (data-* attributes rendered in the reader's language).
 */
(function () {
  "use strict";

  // Preset DEFLATE dictionary, format version 1 (verifier.offline.ZDICT_V1; a test keeps them equal).
  var DICT_V1 = "6IKh5Lu95pyJ6ZmQ5YWs5Y-45pyJ6ZmQ5YWs5Y-46ZuG5Zui56eR5oqA5paw5p2Q5paZ5a6e5Lia5Yi26YCg5pmu6YCa56GF6YW455uQ5rC05rOl5rWu5rOV546755KD6ZOd5ZCI6YeR5Z6L5p2Q5LiJ55u45byC5q2l55S15Yqo5py66Zm255O356CW55O356CW6L2u6IOO57q657uH6Z2i5paZ6ZSC56a75a2Q55S15rGg5YWJ5LyP57uE5Lu26ZKi5p2Q55S16Kej6ZOd5bC_57Sg56O36YW45LiA6ZO156O36YW45LqM6ZO15pyo5Yi25ZOB5Zyw5p2_5YaN55Sf5Lqn5ZOB5q-r57Gz5Y2D5YWLXHU4MGExXHU0ZWZkXHU2NzA5XHU5NjUwXHU1MTZjXHU1M2Y4XHU2NzA5XHU5NjUwXHU1MTZjXHU1M2Y4XHU5NmM2XHU1NmUyXHU3OWQxXHU2MjgwXHU2NWIwXHU2NzUwXHU2NTk5XHU1YjllXHU0ZTFhXHU1MjM2XHU5MDIwXHU2NjZlXHU5MDFhXHU3ODQ1XHU5MTc4XHU3NmQwXHU2YzM0XHU2Y2U1XHU2ZDZlXHU2Y2Q1XHU3M2JiXHU3NDgzXHU5NGRkXHU1NDA4XHU5MWQxXHU1NzhiXHU2NzUwXHU0ZTA5XHU3NmY4XHU1ZjAyXHU2YjY1XHU3NTM1XHU1MmE4XHU2NzNhXHU5Njc2XHU3NGY3XHU3ODE2XHU3NGY3XHU3ODE2XHU4ZjZlXHU4MGNlXHU3ZWJhXHU3ZWM3XHU5NzYyXHU2NTk5XHU5NTAyXHU3OWJiXHU1YjUwXHU3NTM1XHU2YzYwXHU1MTQ5XHU0ZjBmXHU3ZWM0XHU0ZWY2XHU5NGEyXHU2NzUwXHU3NTM1XHU4OWUzXHU5NGRkXHU1YzNmXHU3ZDIwXHU3OGY3XHU5MTc4XHU0ZTAwXHU5NGY1XHU3OGY3XHU5MTc4XHU0ZThjXHU5NGY1XHU2NzI4XHU1MjM2XHU1NGMxXHU1NzMwXHU2NzdmXHU1MThkXHU3NTFmXHU0ZWE3XHU1NGMxXHU2YmViXHU3YzczXHU1MzQzXHU1MTRiImRlY2xhcmVkVW5pdE9mTWVhc3VyZW1lbnQiOiJsaXRlciIsImN1YmljIG1ldGVyIiwia2lsb3dhdHQgaG91ciIsIm1lZ2Fqb3VsZSIsInRvbiBraWxvbWV0ZXIiLCJzcXVhcmUgbWV0ZXIiLCJwaWVjZSIsImNyYWRsZS10by1ncmF2ZSIsIlBBUzIwNTAiLCJHQi9UIDI0MDY3IiwiR0hHIFByb3RvY29sIFByb2R1Y3QgU3RhbmRhcmQiLCJJU08xNDA0NCIsIkFSNSIsIlQvQ0VDQS1HIDAxNzEtMjAyMiIsImNhdGVnb3J5IjoiZmxhdC1nbGFzcyIsImFsdW1pbml1bS1wcm9maWxlIiwibW90b3ItM3BoYXNlIiwiY2VyYW1pYy10aWxlIiwidHlyZSIsInRleHRpbGUtZmFicmljIiwibGl0aGl1bS1iYXR0ZXJ5IiwicHYtbW9kdWxlIiwic3RlZWwiLCJlbGVjdHJvbHl0aWMtYWx1bWluaXVtIiwidXJlYSIsImFtbW9uaXVtLXBob3NwaGF0ZSIsIndvb2QtcHJvZHVjdCIsImNlbWVudCIseyJhbGciOiJFUzI1NiIsImN0eSI6InZjIiwia2lkIjoiZGlkOndlYjoidHlwZSI6WyJWZXJpZmlhYmxlQ3JlZGVudGlhbCIsIkNhcmJvbk5ldXRyYWxDZXJ0aWZpY2F0ZSJdLCJjZXJ0aWZpY2F0ZVR5cGUiOiJjYXJib24tbmV1dHJhbCIsIm5ldXRyYWxpdHkiOnsiY292ZXJlZFF1YW50aXR5IjoiMTAwMCIsImVtaXNzaW9uc0NvdmVyZWQiOiI4MjAuMDAwIiwib2Zmc2V0c1RvdGFsIjoiMC45MDAiLCJyZW5ld2FibGVFbGVjdHJpY2l0eVNoYXJlIjoiMSIsImJhc2VkT24iOiJ1cm46dXVpZDoiLCJvZmZzZXRzIjpbeyJyZWdpc3RyeSI6IkNDRVIiLCJzZXJpYWxOdW1iZXIiOiJDQ0VSLSIsInF1YW50aXR5IjoiMC41MDAiLCJ2aW50YWdlIjoiMjAyNCIsImtpbmQiOiJhdm9pZGFuY2UiLCJyZXRpcmVkQXQiOiIyMDI1LSIsInByb2plY3QiOiIifSx7InJlZ2lzdHJ5IjoiQ0NFUiIsInNlcmlhbE51bWJlciI6IkNDRVItIiwicXVhbnRpdHkiOiIwLjQwMCIsInZpbnRhZ2UiOiIyMDI1Iiwia2luZCI6InJlbW92YWwiLCJyZXRpcmVkQXQiOiIyMDI1LVQwMDowMDowMFoiLCJwcm9qZWN0IjoiIn1dfSwidHlwZSI6WyJWZXJpZmlhYmxlQ3JlZGVudGlhbCIsIlJlZHVjZWRDYXJib25DZXJ0aWZpY2F0ZSJdLCJjZXJ0aWZpY2F0ZVR5cGUiOiJyZWR1Y2VkLWNhcmJvbiIsInJlZHVjdGlvbiI6eyJiYXNlZE9uIjpbInVybjp1dWlkOiIsInVybjp1dWlkOiJdLCJiYXNlbGluZSI6eyJpZCI6InVybjp1dWlkOiIsImNlcnRpZmljYXRlTnVtYmVyIjoiIiwicmVmZXJlbmNlUGVyaW9kU3RhcnQiOiIyMDIxLTAxLTAxVDAwOjAwOjAwWiIsInJlZmVyZW5jZVBlcmlvZEVuZCI6IjIwMjEtMTItMzFUMjM6NTk6NTlaIiwicGNmIjoiMS4yMCJ9LCJjdXJyZW50Ijp7ImlkIjoidXJuOnV1aWQ6IiwiY2VydGlmaWNhdGVOdW1iZXIiOiIiLCJyZWZlcmVuY2VQZXJpb2RTdGFydCI6IjIwMjItMDEtMDFUMDA6MDA6MDBaIiwicmVmZXJlbmNlUGVyaW9kRW5kIjoiMjAyMi0xMi0zMVQyMzo1OTo1OVoiLCJwY2YiOiIxLjA2OCJ9LCJyZWR1Y3Rpb24iOiIwLjExMDAifSwicHJlY2VkaW5nSWRzIjpbInVybjp1dWlkOiJ0eXBlIjpbIlZlcmlmaWFibGVDcmVkZW50aWFsIiwiTG93Q2FyYm9uQ2VydGlmaWNhdGUiXSwiY2VydGlmaWNhdGVUeXBlIjoibG93LWNhcmJvbiIsImJlbmNobWFyayI6eyJ2YWx1ZSI6IjEuMDAiLCJzdGFuZGFyZCI6IkdCL1QgMzIxNTEiLCJzb3VyY2UiOiIifSwiZ3JhZGUiOnsic2NoZW1lIjoiY24tY2FyYm9uLWxhYmVsIiwic2NoZW1lVmVyc2lvbiI6IjEiLCJ2YWx1ZSI6IkIifSwiZ2FzZXMiOnsiQ08yIjoiMC44MCIsIkNINCI6IjAuMDEiLCJOMk8iOiIwLjAxIiwiSEZDcyI6IjAiLCJQRkNzIjoiMCIsIlNGNiI6IjAiLCJORjMiOiIwIn19LCJzdGFnZXMiOnsicmF3TWF0ZXJpYWxBY3F1aXNpdGlvbiI6IjAuMTAiLCJyYXdNYXRlcmlhbFRyYW5zcG9ydCI6IjAuMDIiLCJtYW51ZmFjdHVyaW5nIjoiMC43MCIsImRpc3RyaWJ1dGlvbiI6IjAuMDEiLCJ1c2UiOiIwIiwiZW5kT2ZMaWZlIjoiMC4wMSJ9LHsiQGNvbnRleHQiOlsiaHR0cHM6Ly93d3cudzMub3JnL25zL2NyZWRlbnRpYWxzL3YyIiwiaHR0cHM6Ly8vY29udGV4dHMvY2FyYm9uLWxhYmVsL3YxIl0sImlkIjoidXJuOnV1aWQ6IiwidHlwZSI6WyJWZXJpZmlhYmxlQ3JlZGVudGlhbCIsIkNhcmJvbkZvb3RwcmludENlcnRpZmljYXRlIl0sImlzc3VlciI6ImRpZDp3ZWI6OmJvZGllczoiLCJ2YWxpZEZyb20iOiIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsInZhbGlkVW50aWwiOiIyMDI4LTEyLTMxVDIzOjU5OjU5WiIsImNyZWRlbnRpYWxTdWJqZWN0Ijp7ImlkIjoiaHR0cHM6Ly8vdi8iLCJ0eXBlIjoiQ2FyYm9uTGFiZWxsZWRQcm9kdWN0IiwiY2VydGlmaWNhdGVOdW1iZXIiOiJDUUMtMjAyNi0wMDAiLCJjZXJ0aWZpY2F0ZVR5cGUiOiJjYXJib24tZm9vdHByaW50IiwicHJvZHVjdCI6eyJuYW1lIjoiIiwibmFtZVpoIjoiIiwiY2F0ZWdvcnkiOiIiLCJndGluIjoiMDY5MCIsIm1vZGVsIjoiIiwibWFudWZhY3R1cmVyIjp7Im5hbWUiOiIgQ28uLCBMdGQuIiwiaWQiOiJ1cm46dXNjYzo5MSJ9fSwiZm9vdHByaW50Ijp7ImRlY2xhcmVkVW5pdE9mTWVhc3VyZW1lbnQiOiJraWxvZ3JhbSIsImRlY2xhcmVkVW5pdEFtb3VudCI6IjEiLCJwY2ZFeGNsdWRpbmdCaW9nZW5pY1VwdGFrZSI6IiIsInBjZkluY2x1ZGluZ0Jpb2dlbmljVXB0YWtlIjoiIiwicmVmZXJlbmNlUGVyaW9kU3RhcnQiOiIyMDI1LTAxLTAxVDAwOjAwOjAwWiIsInJlZmVyZW5jZVBlcmlvZEVuZCI6IjIwMjUtMTItMzFUMjM6NTk6NTlaIiwiYm91bmRhcnkiOiJjcmFkbGUtdG8tZ2F0ZSIsImlwY2NDaGFyYWN0ZXJpemF0aW9uRmFjdG9ycyI6WyJBUjYiXSwiY3Jvc3NTZWN0b3JhbFN0YW5kYXJkcyI6WyJJU08xNDA2NyJdLCJncmFkZSI6eyJzY2hlbWUiOiJjbi1jYXJib24tbGFiZWwiLCJzY2hlbWVWZXJzaW9uIjoiMSIsInZhbHVlIjoiIn19LCJjcmVkZW50aWFsU3RhdHVzIjpbeyJpZCI6Imh0dHBzOi8vL3N0YXR1cy9yMSMiLCJ0eXBlIjoiQml0c3RyaW5nU3RhdHVzTGlzdEVudHJ5Iiwic3RhdHVzUHVycG9zZSI6InJldm9jYXRpb24iLCJzdGF0dXNMaXN0SW5kZXgiOiIiLCJzdGF0dXNMaXN0Q3JlZGVudGlhbCI6Imh0dHBzOi8vL3N0YXR1cy9yMSJ9LHsiaWQiOiJodHRwczovLy9zdGF0dXMvczEjIiwidHlwZSI6IkJpdHN0cmluZ1N0YXR1c0xpc3RFbnRyeSIsInN0YXR1c1B1cnBvc2UiOiJzdXNwZW5zaW9uIiwic3RhdHVzTGlzdEluZGV4IjoiIiwic3RhdHVzTGlzdENyZWRlbnRpYWwiOiJodHRwczovLy9zdGF0dXMvczEifV19eyJhbGciOiJFZERTQSIsImN0eSI6InZjIiwia2lkIjoiZGlkOndlYjo6Ym9kaWVzOiNrZXktMSIsInR5cCI6InZjK2p3dCJ9AA";

  var enc = new TextEncoder();
  var dec = new TextDecoder("utf-8", {fatal: true});

  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js", {scope: "/"}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      if (navigator.onLine && reg.active) reg.active.postMessage({refresh: true});
    }).catch(function () {});
  }
  var out = document.getElementById("offline-check");
  if (!out) return;  // the server's own page: it is the answer

  // ------------------------------------------------------------------ bytes
  function b64urlToBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), a = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) a[i] = bin.charCodeAt(i);
    return a;
  }
  function bytesToB64url(a) {
    var s = "";
    for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function decimalToBytes(digits) {
    var hex = BigInt(digits).toString(16);
    if (hex.length % 2) hex = "0" + hex;
    var a = new Uint8Array(hex.length / 2);
    for (var i = 0; i < a.length; i++) a[i] = parseInt(hex.substr(i * 2, 2), 16);
    return a;
  }

  // ------------------------------------------------------------------ inflate (RFC 1951)
  // With a preset dictionary, which the browsers' DecompressionStream cannot take.
  function inflateRaw(data, dict, limit) {
    var out = Array.prototype.slice.call(dict), start = dict.length, pos = 0, bit = 0;
    function bits(n) {
      var v = 0;
      for (var i = 0; i < n; i++) {
        if (pos >= data.length) throw new Error("truncated");
        v |= ((data[pos] >> bit) & 1) << i;
        if (++bit === 8) { bit = 0; pos++; }
      }
      return v;
    }
    function table(lengths) {
      var counts = [], offs = [0], syms = [], max = 0, i;
      for (i = 0; i <= 15; i++) counts[i] = 0;
      for (i = 0; i < lengths.length; i++) { counts[lengths[i]]++; if (lengths[i] > max) max = lengths[i]; }
      counts[0] = 0;
      for (i = 1; i <= 15; i++) offs[i] = offs[i - 1] + counts[i - 1];
      for (i = 0; i < lengths.length; i++) if (lengths[i]) syms[offs[lengths[i]]++] = i;
      return {counts: counts, syms: syms};
    }
    function decode(t) {
      var code = 0, first = 0, index = 0;
      for (var len = 1; len <= 15; len++) {
        code |= bits(1);
        var count = t.counts[len];
        if (code - count < first) return t.syms[index + (code - first)];
        index += count; first += count; first <<= 1; code <<= 1;
      }
      throw new Error("bad code");
    }
    var LB = [3,4,5,6,7,8,9,10,11,13,15,17,19,23,27,31,35,43,51,59,67,83,99,115,131,163,195,227,258];
    var LE = [0,0,0,0,0,0,0,0,1,1,1,1,2,2,2,2,3,3,3,3,4,4,4,4,5,5,5,5,0];
    var DB = [1,2,3,4,5,7,9,13,17,25,33,49,65,97,129,193,257,385,513,769,1025,1537,2049,3073,4097,6145,8193,12289,16385,24577];
    var DE = [0,0,0,0,1,1,2,2,3,3,4,4,5,5,6,6,7,7,8,8,9,9,10,10,11,11,12,12,13,13];
    var fixedL, fixedD, i, last;
    do {
      last = bits(1);
      var type = bits(2);
      if (type === 0) {
        if (bit) { bit = 0; pos++; }
        var len = data[pos] | (data[pos + 1] << 8); pos += 4;
        for (i = 0; i < len; i++) out.push(data[pos++]);
      } else if (type === 1 || type === 2) {
        var lt, dt;
        if (type === 1) {
          if (!fixedL) {
            var l = [];
            for (i = 0; i < 288; i++) l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
            fixedL = table(l);
            var d = []; for (i = 0; i < 30; i++) d[i] = 5;
            fixedD = table(d);
          }
          lt = fixedL; dt = fixedD;
        } else {
          var hlit = bits(5) + 257, hdist = bits(5) + 1, hclen = bits(4) + 4;
          var order = [16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1,15], cl = [];
          for (i = 0; i < 19; i++) cl[i] = 0;
          for (i = 0; i < hclen; i++) cl[order[i]] = bits(3);
          var ct = table(cl), lens = [];
          while (lens.length < hlit + hdist) {
            var sym = decode(ct);
            if (sym < 16) lens.push(sym);
            else if (sym === 16) { var prev = lens[lens.length - 1], r = 3 + bits(2); while (r--) lens.push(prev); }
            else if (sym === 17) { r = 3 + bits(3); while (r--) lens.push(0); }
            else { r = 11 + bits(7); while (r--) lens.push(0); }
          }
          lt = table(lens.slice(0, hlit)); dt = table(lens.slice(hlit));
        }
        for (;;) {
          var s = decode(lt);
          if (s < 256) out.push(s);
          else if (s === 256) break;
          else {
            s -= 257;
            var length = LB[s] + bits(LE[s]), ds = decode(dt), dist = DB[ds] + bits(DE[ds]);
            if (dist > out.length) throw new Error("distance too far");
            for (i = 0; i < length; i++) out.push(out[out.length - dist]);
          }
          if (out.length - start > limit) throw new Error("too large");
        }
      } else throw new Error("bad block");
    } while (!last);
    return new Uint8Array(out.slice(start));
  }

  function unpack(digits) {
    if (digits[0] !== "1") throw new Error("unknown offline format " + digits[0]);
    var raw = decimalToBytes(digits.slice(1));
    if (raw[0] !== 1 || raw.length < 66) throw new Error("malformed offline data");
    var packed = raw.subarray(1), sig = packed.subarray(packed.length - 64);
    var plain = inflateRaw(packed.subarray(0, packed.length - 64), b64urlToBytes(DICT_V1), 65536);
    var cut = plain.indexOf(0);
    if (cut < 0) throw new Error("malformed offline data");
    return {headerBytes: plain.subarray(0, cut), payloadBytes: plain.subarray(cut + 1), sig: sig};
  }

  // ------------------------------------------------------------------ signatures
  function importKey(jwk, alg) {
    if (alg === "EdDSA" && jwk.kty === "OKP" && jwk.crv === "Ed25519")
      return crypto.subtle.importKey("jwk", {kty: "OKP", crv: "Ed25519", x: jwk.x}, {name: "Ed25519"}, false, ["verify"]);
    if (alg === "ES256" && jwk.kty === "EC" && jwk.crv === "P-256")
      return crypto.subtle.importKey("jwk", {kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y}, {name: "ECDSA", namedCurve: "P-256"}, false, ["verify"]);
    return Promise.reject(new Error("unsupported key"));
  }
  function verifySig(jwk, alg, signingInput, sig) {
    var params = alg === "EdDSA" ? {name: "Ed25519"} : {name: "ECDSA", hash: "SHA-256"};
    return importKey(jwk, alg).then(function (key) { return crypto.subtle.verify(params, key, sig, signingInput); });
  }
  // A compact JWS signed by the registry: the payload, or an error.
  function openRegistryJws(token, jwks) {
    var parts = String(token).trim().split(".");
    if (parts.length !== 3) return Promise.reject(new Error("not a JWS"));
    var header = JSON.parse(dec.decode(b64urlToBytes(parts[0])));
    var key = (jwks.keys || []).filter(function (k) { return k.kid === header.kid; })[0];
    if (!key) return Promise.reject(new Error("unknown registry key"));
    var alg = key.alg || (key.kty === "OKP" ? "EdDSA" : "ES256");  // pinned from the key, not the header
    return verifySig(key, alg, enc.encode(parts[0] + "." + parts[1]), b64urlToBytes(parts[2])).then(function (ok) {
      if (!ok) throw new Error("bad registry signature");
      return JSON.parse(dec.decode(b64urlToBytes(parts[1])));
    });
  }

  // ------------------------------------------------------------------ exact decimals
  function D(s) {
    if (typeof s !== "string" || !/^-?\d+(\.\d+)?$/.test(s)) throw new Error("not a decimal string");
    var neg = s[0] === "-", t = neg ? s.slice(1) : s, dot = t.indexOf("."), scale = dot < 0 ? 0 : t.length - dot - 1;
    var n = BigInt(t.replace(".", ""));
    return {n: neg ? -n : n, d: 10n ** BigInt(scale)};
  }
  function cmp(a, b) { var l = a.n * b.d, r = b.n * a.d; return l < r ? -1 : l > r ? 1 : 0; }
  function mul(a, b) { return {n: a.n * b.n, d: a.d * b.d}; }
  function div(a, b) { return b.n < 0n ? {n: -a.n * b.d, d: -b.n * a.d} : {n: a.n * b.d, d: b.n * a.d}; }
  function sub(a, b) { return {n: a.n * b.d - b.n * a.d, d: a.d * b.d}; }
  function add(a, b) { return {n: a.n * b.d + b.n * a.d, d: a.d * b.d}; }
  function roundHalfEven(x, places) {
    var scale = 10n ** BigInt(places), num = x.n * scale, q = num / x.d, r = num % x.d;
    if (r < 0n) { r = -r; }
    var twice = 2n * r;
    if (twice > x.d || (twice === x.d && q % 2n !== 0n)) q += num < 0n ? -1n : 1n;
    return {n: q, d: scale};
  }
  function roundUp(x, places) {
    var scale = 10n ** BigInt(places), num = x.n * scale, q = num / x.d;
    if (num % x.d !== 0n && num > 0n) q += 1n;
    return {n: q, d: scale};
  }

  function gradeFor(kind, subject, scheme) {
    var fp = subject.footprint || {};
    if (kind === "carbon-footprint" || kind === "low-carbon") {
      if (!subject.benchmark) { if (kind === "low-carbon") throw new Error("no benchmark"); return null; }
      var ratio = div(div(D(fp.pcfExcludingBiogenicUptake), D(fp.declaredUnitAmount)), D(subject.benchmark.value));
      var grade = null;
      scheme.footprint.grades.some(function (g) {
        if (g.maxRatio === null || cmp(ratio, D(g.maxRatio)) <= 0) { grade = g.grade; return true; }
        return false;
      });
      if (kind === "low-carbon" && scheme.lowCarbon.allowedGrades.indexOf(grade) < 0) return null;
      return grade;
    }
    if (kind === "reduced-carbon") {
      var red = subject.reduction, b = D(red.baseline.pcf), c = D(red.current.pcf);
      if (fp.pcfExcludingBiogenicUptake !== undefined && cmp(D(fp.pcfExcludingBiogenicUptake), c) !== 0) throw new Error("current differs");
      var r = roundHalfEven(div(sub(b, c), b), scheme.reducedCarbon.places), tier = null;
      scheme.reducedCarbon.tiers.forEach(function (t) { if (cmp(D(t.minReduction), r) <= 0) tier = t.tier; });
      return tier;
    }
    var neu = subject.neutrality;
    var emissions = roundUp(div(mul(D(fp.pcfExcludingBiogenicUptake), D(neu.coveredQuantity)), D(fp.declaredUnitAmount)), 3);
    var total = {n: 0n, d: 1n}, allRemoval = true;
    neu.offsets.forEach(function (o) { total = add(total, D(o.quantity)); if (o.kind !== "removal") allRemoval = false; });
    var share = D(neu.renewableElectricityShare), level = null;
    scheme.carbonNeutral.levels.forEach(function (lv) {
      var q = lv.requires, ok = true;
      Object.keys(q).forEach(function (name) {
        if (name === "minOffsetCoverage") ok = ok && cmp(mul(total, {n: 1000n, d: 1n}), mul(emissions, D(q[name]))) >= 0;
        else if (name === "minRenewableElectricityShare") ok = ok && cmp(share, D(q[name])) >= 0;
        else if (name === "allOffsetsRemoval") ok = ok && (!q[name] || allRemoval);
        else throw new Error("unknown requirement " + name);
      });
      if (ok) level = lv.level;
    });
    return level;
  }

  // ------------------------------------------------------------------ verification
  var KINDS = {CarbonFootprintCertificate: "carbon-footprint", LowCarbonCertificate: "low-carbon",
               ReducedCarbonCertificate: "reduced-carbon", CarbonNeutralCertificate: "carbon-neutral"};

  function t(v) { var ms = Date.parse(v); if (isNaN(ms)) throw new Error("bad time"); return ms; }
  function within(at, from, until) { return t(from) <= at && (until === null || until === undefined || at < t(until)); }

  function getText(url) {
    return fetch(url, {credentials: "omit"}).then(function (r) {
      if (!r.ok) throw new Error(url + " " + r.status);
      return r.text();
    });
  }
  function getJson(url) { return getText(url).then(JSON.parse); }

  function gunzip(bytes) {
    var ds = new DecompressionStream("gzip");
    return new Response(new Blob([bytes]).stream().pipeThrough(ds)).arrayBuffer().then(function (b) { return new Uint8Array(b); });
  }

  function statusBit(entry, jwks, base) {
    var url = entry.statusListCredential;
    if (typeof url !== "string" || url.indexOf(base + "/status/") !== 0) return Promise.reject(new Error("foreign status list"));
    return getText(url.slice(base.length)).then(function (tok) { return openRegistryJws(tok, jwks); }).then(function (list) {
      var subj = list.credentialSubject || {}, index = parseInt(entry.statusListIndex, 10);
      return gunzip(b64urlToBytes(String(subj.encodedList).slice(1))).then(function (bits) {
        var set = (bits[index >> 3] >> (7 - (index & 7))) & 1;
        return {set: set === 1, asOf: list.validFrom};
      });
    });
  }

  function verify(digits, base) {
    var parts = unpack(digits);
    var header = JSON.parse(dec.decode(parts.headerBytes)), payload = JSON.parse(dec.decode(parts.payloadBytes));
    var signingInput = enc.encode(bytesToB64url(parts.headerBytes) + "." + bytesToB64url(parts.payloadBytes));
    var result = {code: null, asOf: null, trustAsOf: null, number: null};
    function fail(code) { result.code = result.code || code; return result; }
    var kinds = (payload.type || []).map(function (x) { return KINDS[x]; }).filter(Boolean);
    var subject = payload.credentialSubject || {};
    if (kinds.length !== 1 || subject.certificateType !== kinds[0] || typeof payload.issuer !== "string") return Promise.resolve(fail("MALFORMED"));
    var kind = kinds[0], issuedAt = t(payload.validFrom);
    result.number = subject.certificateNumber;
    var expectedId = "urn:uuid:" + location.pathname.split("/").pop();
    if (payload.id !== expectedId) return Promise.resolve(fail("MALFORMED"));
    return Promise.all([getJson("/.well-known/jwks.json"), getText("/trust-list")]).then(function (got) {
      var jwks = got[0];
      return openRegistryJws(got[1], jwks).then(function (trust) {
        result.trustAsOf = trust.iat ? new Date(trust.iat * 1000).toISOString() : null;
        var body = (trust.bodies || []).filter(function (b) { return b.did === payload.issuer; })[0];
        if (!body) return fail("UNKNOWN_ISSUER");
        var key = (body.keys || []).filter(function (k) { return k.kid === header.kid; })[0];
        if (!key || !within(issuedAt, key.activeFrom, key.activeUntil)) return fail("UNKNOWN_KEY");
        return verifySig(key.jwk, key.alg, signingInput, parts.sig).then(function (ok) {
          if (!ok) return fail("SIGNATURE_INVALID");
          var interrupted = (body.interruptions || []).some(function (i) { return within(issuedAt, i.from, i.until); });
          var inForce = (body.accreditations || []).filter(function (a) { return within(issuedAt, a.validFrom, a.validUntil); });
          if (interrupted || !inForce.length) return fail("ISSUER_NOT_ACCREDITED");
          var scope = inForce[inForce.length - 1];
          if (scope.certificateTypes.indexOf(kind) < 0 || scope.productCategories.indexOf((subject.product || {}).category) < 0) return fail("OUT_OF_SCOPE");
          var g = subject.grade || {};
          return getJson("/api/v1/grading-schemes/" + encodeURIComponent(g.scheme) + "/versions/" + encodeURIComponent(g.schemeVersion)).then(function (scheme) {
            if (gradeFor(kind, subject, scheme) !== (g.value === undefined ? null : g.value)) return fail("GRADE_MISMATCH");
            var now = Date.now();
            var entries = (Array.isArray(payload.credentialStatus) ? payload.credentialStatus : [payload.credentialStatus]).filter(function (e) {
              return e && e.type === "BitstringStatusListEntry";
            });
            return Promise.all(entries.map(function (e) {
              return statusBit(e, jwks, base).then(function (s) { s.purpose = [].concat(e.statusPurpose); return s; });
            })).then(function (states) {
              states.forEach(function (s) { if (!result.asOf || s.asOf < result.asOf) result.asOf = s.asOf; });
              if (states.some(function (s) { return s.set && s.purpose.indexOf("revocation") >= 0; })) return fail("REVOKED");
              if (states.some(function (s) { return s.set && s.purpose.indexOf("suspension") >= 0; })) return fail("SUSPENDED");
              if (now < issuedAt) return fail("NOT_YET_VALID");
              if (payload.validUntil && now >= t(payload.validUntil)) return fail("EXPIRED");
              return result;
            }, function () { return fail("STATUS_UNAVAILABLE"); });
          });
        });
      });
    });
  }

  // Chinese pages show China Standard Time, others UTC, as the server's pages do.
  function when(iso) {
    if (!iso) return "";
    var zh = document.documentElement.lang.indexOf("zh") === 0;
    var text = new Date(iso).toLocaleString(zh ? "zh-CN" : "en-GB", {timeZone: zh ? "Asia/Shanghai" : "UTC",
      year: "numeric", month: zh ? "numeric" : "long", day: "numeric", hour: "2-digit", minute: "2-digit"});
    return text + (zh ? "（" + out.dataset.zone + "）" : " (UTC)");
  }

  // The language switch keeps the label's data, which lives in the fragment.
  var sw = document.querySelector("a.lang");
  if (sw) sw.setAttribute("href", location.pathname + "?lang=" + (sw.getAttribute("hreflang") || "en") + location.hash);

  var STATE = {REVOKED: "revoked", SUSPENDED: "suspended", EXPIRED: "expired"};

  function show(state, result) {
    var words = out.dataset;
    var banner = document.getElementById("offline-verdict");
    banner.className = "verdict v-" + state;
    document.getElementById("verdict").textContent = words["state" + state[0].toUpperCase() + state.slice(1)];
    document.getElementById("offline-note").textContent = words["note" + state[0].toUpperCase() + state.slice(1)];
    var facts = document.getElementById("offline-facts");
    facts.textContent = "";
    function fact(label, value) {
      if (!value) return;
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = label; dd.textContent = value;
      facts.appendChild(dt); facts.appendChild(dd);
    }
    fact(words.labelNumber, result && result.number);
    fact(words.labelStatusAsOf, when(result && result.asOf));
    fact(words.labelTrustAsOf, when(result && result.trustAsOf));
    fact(words.labelCode, result && result.code && !STATE[result.code] ? result.code : "");
    out.setAttribute("data-verdict", state);
  }

  var fragment = location.hash.replace(/^#/, "");
  if (!/^1\d{10,7089}$/.test(fragment)) { show("nodata", null); return; }
  var base = location.origin;
  try {
    verify(fragment, base).then(function (result) {
      show(result.code ? (STATE[result.code] || "failed") : "valid", result);
    }, function (err) {
      if (window.console) console.error("offline check: " + err);
      show(/fetch|Failed|status|trust|jwks|grading/i.test(String(err)) ? "nodata" : "failed", {code: "MALFORMED"});
    });
  } catch (err) {
    if (window.console) console.error("offline check: " + err);
    show("failed", {code: "MALFORMED"});
  }
})();
