// https deliveries (issues 5 and 7): TLS is verified (an unknown CA is a
// failed attempt naming the certificate problem), WH_TLS_CA_FILE trusts a
// private CA, and a slow TLS handshake does not age the request: the
// dispatcher stamps and signs again once the connection is ready, so
// Streem-Sent-At and webhook-timestamp are the time of sending, not of
// the start of the connect.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import {
  attemptLog,
  createWebhook,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { checkSigned } from './lib/checks.js';

useHarness();

const HANDSHAKE_DELAY_MS = 400;

// A self-signed certificate for "localhost", made for this run.
function makeCert(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert), certFile: cert };
}

// An https receiver whose TLS handshake waits HANDSHAKE_DELAY_MS (in the
// SNI callback) before it goes on.
function slowTlsReceiver({ key, cert }) {
  const requests = [];
  const ctx = tls.createSecureContext({ key, cert });
  const server = https.createServer({
    key,
    cert,
    SNICallback: (name, cb) => setTimeout(() => cb(null, ctx), HANDSHAKE_DELAY_MS),
  }, (req, res) => {
    const receivedAt = Date.now();
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ headers: req.headers, body, text: body.toString('utf8'), receivedAt });
      res.writeHead(204);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, port: server.address().port })));
}

describe('https deliveries', () => {
  let dir;
  let pki;
  let rcv;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-tls-'));
    pki = makeCert(dir);
    rcv = await slowTlsReceiver(pki);
  });

  after(() => {
    rcv?.server.closeAllConnections();
    rcv?.server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('an unknown CA fails the attempt with the reason; nothing is sent', async () => {
    const stack = await startStack({ dispatchers: 1 });
    const { webhook } = await createWebhook(stack, { company_sid: 'CO_tls', url: `https://localhost:${rcv.port}/x`, max_attempts: 1 });
    const res = await stack.api('POST', '/v1/events', { company_sid: 'CO_tls', event_type: 'call.ended', payload: {} });
    assert.equal(res.status, 202);
    const log = await waitUntil(async () => {
      const l = await attemptLog(stack.redis, webhook.sid);
      return l.length ? l : null;
    }, { what: 'the failed attempt' });
    assert.match(log[0].fields.error, /certificate|SSL/i);
    assert.equal(rcv.requests.length, 0);
  });

  test('WH_TLS_CA_FILE trusts the private CA; the stamp is the time of sending despite a slow handshake', async () => {
    const stack = await startStack({ dispatchers: 1, dispatcherEnv: { WH_TLS_CA_FILE: pki.certFile } });
    const { keys } = await createWebhook(stack, { company_sid: 'CO_tls2', url: `https://localhost:${rcv.port}/y` });
    const sids = [];
    for (let i = 0; i < 3; i++) {
      const res = await stack.api('POST', '/v1/events', { company_sid: 'CO_tls2', event_type: 'call.ended', payload: { i } });
      sids.push(res.json.event.event_sid);
    }
    await waitUntil(() => sids.every((s) => rcv.requests.some((r) => r.headers['webhook-id'] === s)), { timeoutMs: 15000, what: 'https deliveries' });
    await waitQueuesIdle(stack.redis);
    for (const s of sids) {
      const req = rcv.requests.find((r) => r.headers['webhook-id'] === s);
      // Signed both ways, and within 500 ms of arrival (checkSigned) ...
      checkSigned(req, keys, s, 'https');
      // ... and in fact close to arrival though the handshake took longer.
      const age = req.receivedAt - Date.parse(req.headers['streem-sent-at']);
      assert.ok(age < HANDSHAKE_DELAY_MS / 2, `Streem-Sent-At is ${age} ms before arrival (handshake ${HANDSHAKE_DELAY_MS} ms)`);
      assert.equal(JSON.parse(req.text).sent_at, req.headers['streem-sent-at']);
    }
  });

  test('a missing WH_TLS_CA_FILE stops the dispatcher at start', async () => {
    const { runToExit, BIN } = await import('./lib/harness.js');
    const r = await runToExit(BIN.dispatcher, { env: { WH_TLS_CA_FILE: '/nonexistent/ca.pem', WH_REDIS_URL: 'redis://127.0.0.1:1' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /WH_TLS_CA_FILE/);
  });
});
