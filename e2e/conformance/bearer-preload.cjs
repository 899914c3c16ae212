// Loaded into the conformance suite's Node process with --require. The
// suite has no option, environment variable or setting that adds an
// Authorization header to the requests it sends a server under test, and
// OrgScope's /mcp answers 401 without one. This adds
// "Authorization: Bearer $CONFORMANCE_BEARER_TOKEN" to every request for
// $CONFORMANCE_SERVER_ORIGIN that carries none, on each of the three ways
// the suite sends requests: the global fetch (the MCP SDK's client
// transport and most raw checks), undici's request (the DNS-rebinding
// scenario, which forges Host and Origin) and node:http's request (the
// SEP-2243 header-validation scenarios, which send exact header sets).
// Nothing else on the wire changes, and requests to other origins are left
// alone. run.sh checks OrgScope's request log afterwards: an authenticated
// pass in which /mcp still answered 401 is reported, so a new request path
// in a later suite version cannot go unnoticed.
'use strict';

const token = process.env.CONFORMANCE_BEARER_TOKEN;
const origin = process.env.CONFORMANCE_SERVER_ORIGIN;

if (token && origin) {
  const want = new URL(origin).origin;
  const bearer = `Bearer ${token}`;
  const sameOrigin = (url) => {
    try {
      return new URL(url).origin === want;
    } catch {
      return false;
    }
  };
  const hasAuthorization = (headers) => {
    if (!headers) return false;
    if (typeof headers.has === 'function') return headers.has('authorization');
    if (Array.isArray(headers)) {
      // undici accepts [name, value] pairs or a flat [name, value, name, value] list.
      const names = Array.isArray(headers[0]) ? headers.map(([k]) => k) : headers.filter((_, i) => i % 2 === 0);
      return names.some((k) => String(k).toLowerCase() === 'authorization');
    }
    return Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
  };
  const withAuthorization = (headers) => {
    if (!headers) return { authorization: bearer };
    if (Array.isArray(headers)) {
      return Array.isArray(headers[0]) ? [...headers, ['authorization', bearer]] : [...headers, 'authorization', bearer];
    }
    if (typeof headers.entries === 'function') return { ...Object.fromEntries(headers.entries()), authorization: bearer };
    return { ...headers, authorization: bearer };
  };

  // fetch(input, init): input is a string, a URL or a Request.
  const originalFetch = globalThis.fetch;
  globalThis.fetch = function fetchWithBearer(input, init) {
    const url = input instanceof Request ? input.url : String(input);
    if (!sameOrigin(url)) return originalFetch(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has('authorization')) headers.set('authorization', bearer);
    return originalFetch(input, { ...init, headers });
  };

  // undici.request(url, options): the ESM import of undici made later by the
  // suite reads this module's exports, so replacing the export here is seen.
  const undici = require('undici');
  const originalRequest = undici.request;
  undici.request = function requestWithBearer(url, opts, ...rest) {
    if (!sameOrigin(String(url)) || hasAuthorization(opts?.headers)) return originalRequest.call(this, url, opts, ...rest);
    return originalRequest.call(this, url, { ...opts, headers: withAuthorization(opts?.headers) }, ...rest);
  };

  // http.request(options[, cb]) or http.request(url[, options][, cb]).
  const http = require('node:http');
  for (const name of ['request', 'get']) {
    const original = http[name];
    http[name] = function httpWithBearer(...args) {
      const urlFirst = typeof args[0] === 'string' || args[0] instanceof URL;
      const optsAt = urlFirst ? (args[1] && typeof args[1] === 'object' ? 1 : -1) : 0;
      const opts = optsAt >= 0 ? args[optsAt] : undefined;
      let target;
      if (urlFirst) {
        target = String(args[0]);
      } else if (opts) {
        const host = opts.hostname ?? String(opts.host ?? 'localhost').replace(/:\d+$/, '');
        const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
        target = `${opts.protocol ?? 'http:'}//${h}:${opts.port ?? 80}`;
      }
      if (!target || !sameOrigin(target) || hasAuthorization(opts?.headers)) return original.apply(this, args);
      const next = [...args];
      if (optsAt >= 0) next[optsAt] = { ...opts, headers: withAuthorization(opts.headers) };
      else next.splice(1, 0, { headers: { authorization: bearer } });
      return original.apply(this, next);
    };
  }
}
