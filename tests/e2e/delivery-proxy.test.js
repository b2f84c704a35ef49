// WH_EGRESS_PROXY (issue 24): every delivery goes through the CONNECT
// proxy (a Node one here), which is asked for the address the dispatcher
// resolved and checked itself (CONNECT 127.0.0.1:port for "localhost"),
// while the Host header and TLS SNI keep the name; a target whose address
// the policy refuses fails before the proxy is asked; with the proxy
// down the attempts fail with a "proxy:" error and are retried;
// WH_EGRESS_NO_PROXY names go direct. The policy here allows only
// 127.0.0.1/32 (WH_ALLOW_PRIVATE_TARGETS off in the dispatcher), so
// 127.0.0.2 stands for a private address. The dispatcher's
// webhooks_delivery_attempt_failures_total names each failure's reason
// (policy, proxy).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { attemptLog, createWebhook, freePort, startStack, useHarness, waitUntil } from './lib/harness.js';
import { parse, value } from './lib/promtext.js';

useHarness();

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// A CONNECT proxy recording what it is asked for.
async function startProxy() {
  const asked = [];
  const server = http.createServer((req, res) => {
    asked.push({ method: req.method, url: req.url });
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req, client, head) => {
    asked.push({ method: 'CONNECT', url: req.url });
    const [host, port] = [req.url.slice(0, req.url.lastIndexOf(':')), Number(req.url.slice(req.url.lastIndexOf(':') + 1))];
    const up = net.connect(port, host.replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  const port = await listen(server);
  return { server, asked, port };
}

function receiverOn(make) {
  const requests = [];
  const server = make((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ url: req.url, host: req.headers.host, servername: req.socket.servername ?? null });
      res.writeHead(204);
      res.end();
    });
  });
  return listen(server).then((port) => ({ server, requests, port }));
}

let dir;
let proxy;
let plain;
let secure;
let caFile;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-proxy-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem',
    '-out', 'cert.pem', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { cwd: dir, stdio: 'ignore' });
  caFile = path.join(dir, 'cert.pem');
  const tlsOpts = { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(caFile) };
  proxy = await startProxy();
  plain = await receiverOn((h) => http.createServer(h));
  secure = await receiverOn((h) => https.createServer(tlsOpts, h));
});

after(() => {
  for (const s of [proxy, plain, secure]) {
    s?.server.closeAllConnections?.();
    s?.server.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const policyEnv = { WH_ALLOW_PRIVATE_TARGETS: '0', WH_ALLOW_CIDRS: '127.0.0.1/32' };

async function attempts(stack, sid, n) {
  return waitUntil(async () => {
    const l = await attemptLog(stack.redis, sid);
    return l.length >= n ? l : null;
  }, { timeoutMs: 15000, what: `${n} attempt(s) of ${sid}` });
}

// The dispatcher's failed attempts by reason, from its own GET /metrics.
async function failures(port, reason) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return value(parse(await res.text()), 'webhooks_delivery_attempt_failures_total', { reason }) ?? 0;
}

async function publish(stack, company) {
  const res = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', payload: {} });
  assert.equal(res.status, 202, res.text);
}

describe('through the egress proxy', () => {
  test('the proxy is asked for the checked address; Host and SNI keep the name; a private address is refused first', async () => {
    const metrics = await freePort();
    const stack = await startStack({
      dispatchers: 1,
      dispatcherEnv: {
        ...policyEnv, WH_EGRESS_PROXY: `http://127.0.0.1:${proxy.port}`, WH_TLS_CA_FILE: caFile,
        WH_METRICS_LISTEN: `127.0.0.1:${metrics}`,
      },
    });
    const h = await createWebhook(stack, { company_sid: 'CO_px1', url: `http://localhost:${plain.port}/h`, max_attempts: 1 });
    const s = await createWebhook(stack, { company_sid: 'CO_px2', url: `https://localhost:${secure.port}/s`, max_attempts: 1 });
    const p = await createWebhook(stack, { company_sid: 'CO_px3', url: `http://127.0.0.2:${plain.port}/p`, max_attempts: 1 });
    for (const co of ['CO_px1', 'CO_px2', 'CO_px3']) await publish(stack, co);
    for (const w of [h, s]) {
      const [a] = await attempts(stack, w.webhook.sid, 1);
      assert.equal(a.fields.error ?? '', '', JSON.stringify(a.fields));
    }
    const [refused] = await attempts(stack, p.webhook.sid, 1);
    assert.match(refused.fields.error, /^target refused/);
    assert.equal(await failures(metrics, 'policy'), 1);
    assert.equal(await failures(metrics, 'other'), 0);
    const connects = proxy.asked.map((x) => `${x.method} ${x.url}`);
    assert.ok(connects.includes(`CONNECT 127.0.0.1:${plain.port}`), connects.join(', '));
    assert.ok(connects.includes(`CONNECT 127.0.0.1:${secure.port}`), connects.join(', '));
    assert.ok(!connects.some((c) => c.includes('127.0.0.2') || c.includes('localhost')), connects.join(', '));
    assert.deepEqual(plain.requests.map((r) => [r.url, r.host]), [['/h', `localhost:${plain.port}`]]);
    assert.deepEqual(secure.requests.map((r) => [r.url, r.host, r.servername]), [['/s', `localhost:${secure.port}`, 'localhost']]);
  });

  test('proxy down: attempts fail with a proxy error and are retried; WH_EGRESS_NO_PROXY goes direct', async () => {
    const dead = await freePort();
    const metrics = await freePort();
    const stack = await startStack({
      dispatchers: 1,
      dispatcherEnv: {
        ...policyEnv, WH_EGRESS_PROXY: `http://127.0.0.1:${dead}`, WH_EGRESS_NO_PROXY: 'example.invalid, 127.0.0.1',
        WH_METRICS_LISTEN: `127.0.0.1:${metrics}`,
      },
    });
    const viaProxy = await createWebhook(stack, { company_sid: 'CO_pd1', url: `http://localhost:${plain.port}/down`, max_attempts: 2 });
    const direct = await createWebhook(stack, { company_sid: 'CO_pd2', url: `http://127.0.0.1:${plain.port}/direct`, max_attempts: 1 });
    const before = proxy.asked.length;
    await publish(stack, 'CO_pd1');
    await publish(stack, 'CO_pd2');
    const l = await attempts(stack, viaProxy.webhook.sid, 2);
    for (const a of l) assert.match(a.fields.error, /^proxy: /, JSON.stringify(a.fields));
    assert.deepEqual(l.map((a) => a.fields.attempt), ['1', '2']);
    assert.equal(await failures(metrics, 'proxy'), 2);
    assert.equal(await failures(metrics, 'connect'), 0);
    const [d] = await attempts(stack, direct.webhook.sid, 1);
    assert.equal(d.fields.error ?? '', '', JSON.stringify(d.fields));
    assert.ok(plain.requests.some((r) => r.url === '/direct'));
    assert.ok(!plain.requests.some((r) => r.url === '/down'));
    assert.equal(proxy.asked.length, before, 'the other proxy was not involved');
  });

  test('a proxy refusing the CONNECT is a proxy error', async () => {
    const refusing = http.createServer();
    refusing.on('connect', (req, client) => client.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    const port = await listen(refusing);
    try {
      const stack = await startStack({ dispatchers: 1, dispatcherEnv: { ...policyEnv, WH_EGRESS_PROXY: `http://127.0.0.1:${port}` } });
      const w = await createWebhook(stack, { company_sid: 'CO_pr', url: `http://localhost:${plain.port}/r`, max_attempts: 1 });
      await publish(stack, 'CO_pr');
      const [a] = await attempts(stack, w.webhook.sid, 1);
      assert.match(a.fields.error, /^proxy: CONNECT answered 403/, JSON.stringify(a.fields));
    } finally {
      refusing.close();
    }
  });

  test('a malformed WH_EGRESS_PROXY stops the dispatcher at start', async () => {
    const { runToExit, BIN } = await import('./lib/harness.js');
    for (const v of ['socks5://127.0.0.1:1080', 'http://user:pw@proxy:3128', 'http://proxy', 'http://proxy:31x8/']) {
      const r = await runToExit(BIN.dispatcher, { env: { WH_EGRESS_PROXY: v, WH_REDIS_URL: 'redis://127.0.0.1:1' } });
      assert.equal(r.code, 2, v);
      assert.match(r.stderr, /WH_EGRESS_PROXY/);
    }
  });
});
