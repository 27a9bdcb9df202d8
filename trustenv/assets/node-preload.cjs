// oauthproxy Node preload: makes fetch and http/https requests of this
// process go through the proxy named by HTTPS_PROXY / HTTP_PROXY, honouring
// NO_PROXY. Written by oauthproxy into its data directory and loaded with
// NODE_OPTIONS=--require <this file>; it needs no npm package.
//
// Node 22.21+ and 24.5+ do this themselves under NODE_USE_ENV_PROXY=1
// (which oauthproxy also sets): there this file does nothing. Older Node
// (18, 20, 22.0-22.20, 23, 24.0-24.4) ignores the proxy variables, so this
// file replaces the global http and https agents and the dispatcher of the
// built-in fetch (undici) with ones that go through the proxy.
'use strict';
(function oauthproxyPreload() {
  if (globalThis.__oauthproxyPreload) return; // loaded twice (nested NODE_OPTIONS)
  globalThis.__oauthproxyPreload = true;
  const env = process.env;
  const [major, minor] = process.versions.node.split('.').map(Number);
  const builtin = (major === 22 && minor >= 21) || (major === 24 && minor >= 5) || major >= 25;
  if (builtin && (env.NODE_USE_ENV_PROXY === '1' || process.execArgv.includes('--use-env-proxy'))) return;

  const http = require('http');
  const https = require('https');
  const net = require('net');
  const tls = require('tls');

  function pick(upper, lower) {
    const v = env[lower] !== undefined && env[lower] !== '' ? env[lower] : env[upper];
    return v === undefined ? '' : v;
  }
  function parseProxy(s) {
    if (!s) return null;
    try {
      const u = new URL(s.includes('://') ? s : 'http://' + s);
      if (u.protocol !== 'http:') {
        process.emitWarning('oauthproxy preload: only http:// proxies are supported, not ' + u.protocol);
        return null;
      }
      const auth = u.username ? 'Basic ' + Buffer.from(decodeURIComponent(u.username) + ':' + decodeURIComponent(u.password)).toString('base64') : '';
      return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || 80, auth };
    } catch (e) {
      process.emitWarning('oauthproxy preload: bad proxy URL ' + JSON.stringify(s));
      return null;
    }
  }
  const httpsProxy = parseProxy(pick('HTTPS_PROXY', 'https_proxy'));
  const httpProxy = parseProxy(pick('HTTP_PROXY', 'http_proxy'));
  if (!httpsProxy && !httpProxy) return;
  const noProxy = pick('NO_PROXY', 'no_proxy').split(/[\s,]+/).filter(Boolean).map((s) => s.toLowerCase());

  // bypass reports whether host:port is excluded by NO_PROXY (exact host,
  // host:port, domain suffix with or without a leading dot, or *).
  function bypass(host, port) {
    host = String(host || '').toLowerCase().replace(/^\[|\]$/g, '');
    for (const e of noProxy) {
      if (e === '*') return true;
      let h = e;
      let p = '';
      const m = /^(.*):(\d+)$/.exec(e);
      if (m && !e.includes('::')) { h = m[1]; p = m[2]; }
      if (p && String(port) !== p) continue;
      h = h.replace(/^\*?\./, '');
      if (host === h || host.endsWith('.' + h)) return true;
    }
    return false;
  }

  // connectTunnel opens a CONNECT tunnel to host:port through proxy and
  // calls cb(err, socket).
  function connectTunnel(proxy, host, port, cb) {
    const target = (net.isIPv6(host) ? '[' + host + ']' : host) + ':' + port;
    const headers = { host: target };
    if (proxy.auth) headers['proxy-authorization'] = proxy.auth;
    const req = http.request({ host: proxy.host, port: proxy.port, method: 'CONNECT', path: target, headers, agent: false });
    let done = false;
    const finish = (err, sock) => { if (!done) { done = true; cb(err, sock); } };
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        finish(new Error('oauthproxy preload: proxy ' + proxy.host + ':' + proxy.port + ' answered ' + res.statusCode + ' to CONNECT ' + target));
        return;
      }
      if (head && head.length) socket.unshift(head);
      finish(null, socket);
    });
    req.once('error', (err) => finish(err));
    req.end();
  }

  // https: an agent whose connections are TLS inside a CONNECT tunnel.
  if (httpsProxy) {
    class TunnelAgent extends https.Agent {
      createConnection(options, cb) {
        const host = options.host || options.hostname || 'localhost';
        const port = options.port || 443;
        if (bypass(host, port)) return super.createConnection(options, cb);
        connectTunnel(httpsProxy, host, port, (err, socket) => {
          if (err) { cb(err); return; }
          const servername = options.servername || (net.isIP(host) ? undefined : host);
          let tlsSock;
          try {
            tlsSock = tls.connect({ ...options, socket, servername });
          } catch (e) { socket.destroy(); cb(e); return; }
          cb(null, tlsSock);
        });
        return undefined;
      }
    }
    const old = https.globalAgent.options || {};
    https.globalAgent = new TunnelAgent({ keepAlive: old.keepAlive, keepAliveMsecs: old.keepAliveMsecs, maxSockets: old.maxSockets });
  }

  // http: requests without an explicit agent are sent to the proxy in
  // absolute form (GET http://host/path).
  if (httpProxy) {
    const orig = { request: http.request, get: http.get };
    const wrap = (fn) => function (...args) {
      let url = null;
      let opts = {};
      let cbk;
      if (typeof args[0] === 'string' || args[0] instanceof URL) {
        url = new URL(String(args[0]));
        if (typeof args[1] === 'object' && args[1] !== null) { opts = args[1]; cbk = args[2]; } else { cbk = args[1]; }
      } else { opts = args[0] || {}; cbk = args[1]; }
      const o = { ...opts };
      if (url) {
        o.protocol = o.protocol || url.protocol;
        o.hostname = o.hostname || url.hostname;
        o.port = o.port || url.port;
        o.path = o.path || url.pathname + url.search;
        if (url.username && !o.auth) o.auth = decodeURIComponent(url.username) + ':' + decodeURIComponent(url.password);
      }
      const host = (o.hostname || o.host || 'localhost').replace(/:\d+$/, '');
      const port = Number(o.port) || 80;
      // Left alone: other protocols, explicit agents or sockets, NO_PROXY
      // hosts, and requests already addressed to a proxy (absolute path,
      // or the proxy itself as host: a library that reads HTTP_PROXY).
      const toProxy = /^[a-z][a-z0-9+.-]*:\/\//i.test(o.path || '') || (host === httpProxy.host && port === httpProxy.port);
      if ((o.protocol && o.protocol !== 'http:') || o.agent !== undefined || o.socketPath || o.createConnection || toProxy || bypass(host, port)) {
        return fn.apply(this, args);
      }
      const hostPort = (net.isIPv6(host) ? '[' + host + ']' : host) + (port === 80 ? '' : ':' + port);
      o.path = 'http://' + hostPort + (o.path || '/');
      o.headers = { ...(o.headers || {}) };
      if (!Object.keys(o.headers).some((k) => k.toLowerCase() === 'host')) o.headers.host = hostPort;
      if (httpProxy.auth) o.headers['proxy-authorization'] = httpProxy.auth;
      o.host = httpProxy.host;
      o.hostname = httpProxy.host;
      o.port = httpProxy.port;
      delete o.protocol;
      return fn.call(this, o, cbk);
    };
    http.request = wrap(orig.request);
    http.get = wrap(orig.get);
  }

  // fetch: undici's Agent is not exported by Node before 22.21, but the
  // global dispatcher that fetch creates on its first call is one; a new
  // Agent built with its constructor and a connect function that tunnels
  // through the proxy replaces it just before the first fetch runs.
  if (httpsProxy && typeof globalThis.fetch === 'function') {
    const key = Symbol.for('undici.globalDispatcher.1');
    const origFetch = globalThis.fetch;
    let installed = false;
    const install = () => {
      installed = true;
      try {
        if (globalThis[key] === undefined) origFetch('data:,').catch(() => {}); // creates the default dispatcher
        const current = globalThis[key];
        const Agent = current && current.constructor;
        if (typeof Agent !== 'function') throw new Error('no undici dispatcher');
        // Another dispatcher (Node 24.0-24.4's EnvHttpProxyAgent under
        // NODE_USE_ENV_PROXY, or the app's own) is left alone.
        if (Agent.name !== 'Agent') return;
        globalThis[key] = new Agent({ connect: fetchConnect });
      } catch (e) {
        process.emitWarning('oauthproxy preload: fetch is not proxied (' + e.message + ')');
      }
    };
    const fetchConnect = (opts, cb) => {
      const host = opts.hostname;
      const https = opts.protocol === 'https:';
      const port = Number(opts.port) || (https ? 443 : 80);
      const done = (err, socket) => {
        if (err) { cb(err, null); return; }
        if (!https) { cb(null, socket); return; }
        const servername = opts.servername || (net.isIP(host) ? undefined : host);
        const t = tls.connect({ socket, servername, ALPNProtocols: ['http/1.1'] });
        let called = false;
        t.once('secureConnect', () => { if (!called) { called = true; cb(null, t); } });
        t.once('error', (e) => { if (!called) { called = true; cb(e, null); } });
      };
      const proxy = https ? httpsProxy : httpProxy;
      if (!proxy || bypass(host, port)) {
        const s = net.connect({ host, port });
        s.once('connect', () => done(null, s));
        s.once('error', (e) => done(e));
        return;
      }
      connectTunnel(proxy, host, port, done);
    };
    globalThis.fetch = function fetch(input, init) {
      if (!installed) install();
      return origFetch.call(this, input, init);
    };
  }
})();
