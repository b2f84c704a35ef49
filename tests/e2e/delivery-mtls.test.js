// Per-webhook TLS material (issue 24): a client certificate presented on
// TLS deliveries and a private CA trusted for one webhook only, both with
// certificates made by openssl for this run. A receiver that requires a
// client certificate accepts only the webhook holding the right one
// (another's and none fail the attempt with a TLS error, nothing is
// received); a receiver whose certificate a private CA issued is reached
// only by the webhook trusting that CA, and that CA adds to the
// dispatcher's (WH_TLS_CA_FILE stands in for the system store here), it
// does not replace them. The private key is never in an answer, a log
// line, the Redis record (sealed with WH_SECRETS_KEY) or a file in the
// dispatcher's temp dir. Write-time checks: 422 naming the field.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import {
  attemptLog,
  createWebhook,
  logsSince,
  startStack,
  useHarness,
  waitUntil,
  KEYS,
} from './lib/harness.js';
import { expectFieldError } from './lib/checks.js';

useHarness();

let dir;
const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');

// A CA: <name>.key, <name>.pem.
function makeCa(name) {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
  return { cert: read(`${name}.pem`), file: path.join(dir, `${name}.pem`) };
}

// A certificate issued by ca: <name>.key, <name>.pem; server ones for localhost.
function issue(name, ca, { server = false, days = 1 } = {}) {
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, server ? 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
  ssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/O=Acme/CN=${name}`);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-days', String(days), '-extfile', ext, '-out', `${name}.pem`);
  return { cert: read(`${name}.pem`), key: read(`${name}.key`) };
}

// An https receiver; with clientCa it requires a client certificate from it.
function receiver({ key, cert }, clientCa) {
  const requests = [];
  const opts = { key, cert };
  // TLS 1.2: a refused client certificate ends the handshake itself (with
  // TLS 1.3 the server's alert comes after curl's handshake is done).
  if (clientCa) Object.assign(opts, { requestCert: true, rejectUnauthorized: true, ca: clientCa, maxVersion: 'TLSv1.2' });
  const server = https.createServer(opts, (req, res) => {
    const peer = req.socket.getPeerCertificate();
    req.resume();
    req.on('end', () => {
      requests.push({ headers: req.headers, peer: peer?.subject?.CN ?? null });
      res.writeHead(204);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, port: server.address().port })));
}

let pub;
let priv;
let clientCa;
let clientA;
let clientB;
let mtls;
let privRcv;
let stack;
let tmp;
const secretsKey = `k1:${crypto.randomBytes(32).toString('base64')}`;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-mtls-'));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-mtls-disp-'));
  pub = makeCa('pubca');
  priv = makeCa('privca');
  clientCa = makeCa('clientca');
  makeCa('otherca');
  clientA = issue('client-a', 'clientca');
  clientB = issue('client-b', 'otherca');
  mtls = await receiver(issue('mtls-server', 'pubca', { server: true }), clientCa.cert);
  privRcv = await receiver(issue('priv-server', 'privca', { server: true }));
  stack = await startStack({
    dispatchers: 1,
    env: { WH_SECRETS_KEY: secretsKey },
    dispatcherEnv: { WH_TLS_CA_FILE: pub.file, TMPDIR: tmp },
  });
});

after(() => {
  for (const r of [mtls, privRcv]) {
    r?.server.closeAllConnections();
    r?.server.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function publishTo(company, tag) {
  const res = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', payload: { tag } });
  assert.equal(res.status, 202, res.text);
}

async function firstAttempt(sid) {
  return (await waitUntil(async () => {
    const l = await attemptLog(stack.redis, sid);
    return l.length ? l : null;
  }, { timeoutMs: 15000, what: `an attempt of ${sid}` }))[0];
}

describe('client certificates', () => {
  test('write-time checks: 422 naming tls_client_certificate; the key is never shown', async () => {
    const url = `https://localhost:${mtls.port}/x`;
    const post = (tls) => stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_mv', url, tls_client_certificate: tls } });
    await expectFieldError(() => post({ certificate_pem: 'not pem', private_key_pem: clientA.key }), 422, 'tls_client_certificate');
    await expectFieldError(() => post({ certificate_pem: clientA.cert, private_key_pem: clientB.key }), 422, 'tls_client_certificate');
    await expectFieldError(() => post({ certificate_pem: clientA.cert }), 422, 'tls_client_certificate.private_key_pem');
    await expectFieldError(() => post({ certificate_pem: clientA.cert, private_key_pem: clientA.key, extra: 1 }), 422, 'tls_client_certificate.extra');
    await expectFieldError(() => post('pem'), 422, 'tls_client_certificate');
    // An expired certificate: -days 0 ends its validity when it is made.
    const old = issue('old', 'clientca', { days: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    const p = await expectFieldError(() => post({ certificate_pem: old.cert, private_key_pem: old.key }), 422, 'tls_client_certificate');
    assert.match(JSON.stringify(p), /expired/);
    // An encrypted key is refused, not prompted for.
    ssl('pkey', '-in', 'client-a.key', '-aes256', '-passout', 'pass:x', '-out', 'enc.key');
    await expectFieldError(() => post({ certificate_pem: clientA.cert, private_key_pem: read('enc.key') }), 422, 'tls_client_certificate');
    await expectFieldError(() => stack.api('POST', '/v1/webhooks', { webhook: { company_sid: 'CO_mv', url, tls_ca_pem: 'nope' } }), 422, 'tls_ca_pem');

    const ok = await post({ certificate_pem: clientA.cert, private_key_pem: clientA.key });
    assert.equal(ok.status, 201, ok.text);
    const shown = ok.json.webhook.tls_client_certificate;
    assert.equal(shown.subject, 'CN=client-a,O=Acme');
    assert.equal(shown.issuer, 'CN=clientca');
    assert.ok(Date.parse(shown.not_after) > Date.now());
    assert.ok(!ok.text.includes('PRIVATE KEY'), 'no key in the answer');
    const got = await stack.api('GET', `/v1/webhooks/${ok.json.webhook.sid}`);
    assert.deepEqual(got.json.webhook.tls_client_certificate, shown);
    assert.ok(!got.text.includes('PRIVATE KEY'));
    // Sealed at rest: the record holds no PEM key.
    const rec = await stack.redis.call('GET', KEYS.webhook(ok.json.webhook.sid));
    assert.ok(rec && !String(rec).includes('PRIVATE KEY'), 'the stored record has the key sealed');
    // null removes it.
    const off = await stack.api('PATCH', `/v1/webhooks/${ok.json.webhook.sid}`, { tls_client_certificate: null });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.webhook.tls_client_certificate, null);
  });

  test('the receiver requiring a client certificate accepts only the webhook with the right one', async () => {
    const url = `https://localhost:${mtls.port}/m`;
    const mk = (co, extra) => createWebhook(stack, { company_sid: co, url, max_attempts: 1, ...extra });
    const good = await mk('CO_mA', { tls_client_certificate: { certificate_pem: clientA.cert, private_key_pem: clientA.key } });
    const other = await mk('CO_mB', { tls_client_certificate: { certificate_pem: clientB.cert, private_key_pem: clientB.key } });
    const none = await mk('CO_mN', {});
    await publishTo('CO_mB', 'b');
    await publishTo('CO_mN', 'n');
    await publishTo('CO_mA', 'a');
    const a = await firstAttempt(good.webhook.sid);
    assert.equal(a.fields.error ?? '', '', JSON.stringify(a.fields));
    for (const w of [other, none]) {
      const f = await firstAttempt(w.webhook.sid);
      assert.match(f.fields.error, /SSL|TLS|certificate|alert/i, JSON.stringify(f.fields));
    }
    assert.deepEqual(mtls.requests.map((r) => r.peer), ['client-a'], 'only the right certificate got through');
  });
});

describe('a private CA per webhook', () => {
  test('reached only by the webhook trusting that CA, which adds to the dispatcher\'s CAs', async () => {
    const url = `https://localhost:${privRcv.port}/p`;
    const trusting = await createWebhook(stack, { company_sid: 'CO_pT', url, max_attempts: 1, tls_ca_pem: priv.cert });
    assert.equal(trusting.webhook.tls_ca_pem, priv.cert);
    const plain = await createWebhook(stack, { company_sid: 'CO_pP', url, max_attempts: 1 });
    // The same private CA does not make the pubca receiver unreachable.
    const both = await createWebhook(stack, {
      company_sid: 'CO_pB', url: `https://localhost:${mtls.port}/b`, max_attempts: 1, tls_ca_pem: priv.cert,
      tls_client_certificate: { certificate_pem: clientA.cert, private_key_pem: clientA.key },
    });
    const before = mtls.requests.length;
    await publishTo('CO_pP', 'p');
    await publishTo('CO_pT', 't');
    await publishTo('CO_pB', 'b');
    const t = await firstAttempt(trusting.webhook.sid);
    assert.equal(t.fields.error ?? '', '', `trusting: ${JSON.stringify(t.fields)}`);
    const p = await firstAttempt(plain.webhook.sid);
    assert.match(p.fields.error, /certificate|SSL/i);
    // Once the trusting webhook has connected, the other still may not
    // (no reused connection, no CA left in a shared store).
    await publishTo('CO_pP', 'p2');
    const p2 = await waitUntil(async () => {
      const l = await attemptLog(stack.redis, plain.webhook.sid);
      return l.length > 1 ? l[1] : null;
    }, { timeoutMs: 15000, what: 'the second attempt' });
    assert.match(p2.fields.error, /certificate|SSL/i);
    const b = await firstAttempt(both.webhook.sid);
    assert.equal(b.fields.error ?? '', '', `both: ${JSON.stringify(b.fields)}`);
    assert.equal(privRcv.requests.length, 1, 'one delivery reached the private-CA receiver');
    assert.equal(mtls.requests.length, before + 1);
  });
});

describe('key material stays in memory', () => {
  test('no private key in any log line or in the dispatcher\'s temp dir', () => {
    const keyBody = (k) => k.split('\n').filter((l) => l && !l.startsWith('-----'));
    const secrets = [...keyBody(clientA.key), ...keyBody(clientB.key)];
    const lines = logsSince(0);
    assert.ok(lines.length > 0);
    for (const l of lines) {
      assert.ok(!l.text.includes('PRIVATE KEY'), `log line: ${l.text.slice(0, 80)}`);
      for (const s of secrets) assert.ok(!l.text.includes(s), 'a key line in a log line');
    }
    const files = fs.readdirSync(tmp, { recursive: true });
    for (const f of files) {
      const p = path.join(tmp, String(f));
      if (fs.statSync(p).isFile()) assert.ok(!fs.readFileSync(p, 'utf8').includes('PRIVATE KEY'), p);
    }
  });
});
