// A short fuzz of the api, run by make test: a few thousand requests with
// mangled JSON bodies, random paths, query strings, methods and headers,
// then raw malformed HTTP on plain sockets, then the same traffic while
// Redis is killed and comes back. No answer may be a 5xx other than 503,
// none may hang, and afterwards /healthz answers and every Kore worker is
// the one that was there before (none crashed and was respawned).
// E2E_FUZZ_SEED=<n> replays a run; E2E_FUZZ_N=<n> changes its size.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { KEYS, logsSince, sleep, startStack, useHarness, waitUntil } from './lib/harness.js';
import { companyKey, createWebhook, sha256hex } from './lib/checks.js';

useHarness();

const SEED = Number(process.env.E2E_FUZZ_SEED || (Date.now() % 2147483647));
const N = Number(process.env.E2E_FUZZ_N || 3000);
const CONCURRENCY = 32;

// mulberry32: small, seedable, good enough to pick inputs.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => rand() < p;

let stack;
let company;
let hook;
let keyId;
let companyAuth;

// Processes of the api's group (Kore's parent and workers) by pid.
function groupPids(pgid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out.sort((x, y) => x - y);
}

before(async () => {
  stack = await startStack({ dispatchers: 0 });
  company = 'CO_fuzz';
  hook = await createWebhook(stack.api, company);
  const sk = (await stack.api('GET', `/v1/webhooks/${hook.sid}/signing-keys`)).json.signing_keys[0];
  keyId = sk.sid;
  companyAuth = (await companyKey(stack.api, company)).auth;
  process.stderr.write(`api-fuzz: seed ${SEED} (E2E_FUZZ_SEED=${SEED} replays it), ${N} requests\n`);
});

// ------------------------------------------------------------- generators

const segChars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';
const weird = ['%00', '%2e%2e', '..', '.', '%', '%zz', '%ff%fe', '~', '!', '%20', ';x=1', '*', '%0d%0a', 'é'];

function segment() {
  switch (int(6)) {
    case 0: return hook.sid;
    case 1: return keyId;
    case 2: return Array.from({ length: 1 + int(70) }, () => pick(segChars)).join('');
    case 3: return pick(weird);
    case 4: return '';
    default: return pick(['wh_x', 'sk_y', 'key_z', 'signing-keys', 'webhooks', 'v1', 'api-keys']);
  }
}

const templates = [
  '/healthz', '/v1/webhooks', '/v1/webhooks/S', '/v1/webhooks/S/signing-keys', '/v1/webhooks/S/signing-keys/S',
  '/v1/api-keys', '/v1/api-keys/S', '/v1/events', '/', '/v1', '/v1/S', '/v1/webhooks/S/S/S/S', '/S/S',
];

function randomPath() {
  let p = pick(templates).replace(/S/g, () => segment());
  if (chance(0.05)) p += '/';
  if (chance(0.03)) p = p.replace(/\//g, '//');
  return p;
}

const qNames = ['page_size', 'sort', 'page_token', 'company_sid', 'x', '', 'PAGE_SIZE', 'page_size[]', '%70age_size'];
const qValues = () => pick([
  String(int(200) - 50), '1e3', '5.5', '', 'url.asc', 'label.desc', 'created_at', 'bogus.asc', company, 'CO_other',
  Buffer.from(Array.from({ length: int(80) }, () => int(256))).toString('base64url'), '%', '%zz', '%00', '+', 'a'.repeat(int(1500)),
]);

function randomQuery() {
  if (chance(0.4)) return '';
  const parts = Array.from({ length: 1 + int(5) }, () => {
    if (chance(0.1)) return pick(['&', '=', '==', '&&', 'x']);
    return `${pick(qNames)}=${qValues()}`;
  });
  return `?${parts.join('&')}`;
}

const validBodies = () => [
  { webhook: { company_sid: company, url: 'https://example.com/f', label: 'l', headers: [{ name: 'X-A', value: '1' }] } },
  { company_sid: company, url: 'http://[::1]:8080/x', method: 'PUT', timeout_ms: 100, max_attempts: 20, event_types: ['a.*'] },
  { label: 'x', shared_secret: 'sixteen+ chars ok', expires_at: '2030-01-01T00:00:00Z' },
  { company_sid: company, event_type: 'call.ended', payload: { a: [1, 2, { b: null }] } },
  { company_sid: company, admin: false, label: 'k' },
  { expires_at: null, label: null, enabled: true },
];

function mutate(text) {
  const b = Buffer.from(text, 'utf8');
  switch (int(10)) {
    case 0: return b.subarray(0, int(b.length + 1));
    case 1: { const c = Buffer.from(b); for (let i = 0; i < 1 + int(5); i++) c[int(c.length)] = int(256); return c; }
    case 2: { const at = int(b.length); return Buffer.concat([b.subarray(0, at), Buffer.from(pick(['"', '\\', '{', ']', ',', ':', '\\u', '\\ud800', '\u0000', 'null', '1e999', '-0', '\u00e9', '\\u0000'])), b.subarray(at)]); }
    case 3: return Buffer.from(`${'['.repeat(1 + int(200))}1${']'.repeat(int(201))}`);
    case 4: return Buffer.from(`{"a":${'{"a":'.repeat(int(40))}1${'}'.repeat(int(41))}}`);
    case 5: return Buffer.from(text.replace(/"[^"]*"/, () => pick(['123456789012345678901234567890', '"\\u00e9\\ud83d\\ude00"', 'true', '[]', '{}', `"${'x'.repeat(int(70000))}"`])));
    case 6: return Buffer.from(Array.from({ length: int(300) }, () => int(256)));
    case 7: return Buffer.from(`{${Array.from({ length: int(50) }, (_, i) => `"k${i % 7}":${i}`).join(',')}}`);
    case 8: return Buffer.from(text.replace('{', '{"url":"x","url":"y",'));
    default: return b;
  }
}

const cts = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/problem+json', '', 'x', 'application/json;;;'];

// Most requests aim at a real route (so they reach the handlers), the rest
// anywhere.
function realRoute() {
  return pick([
    ['POST', '/v1/webhooks'], ['GET', '/v1/webhooks'], ['GET', `/v1/webhooks/${hook.sid}`],
    ['PATCH', `/v1/webhooks/${hook.sid}`], ['POST', `/v1/webhooks/${hook.sid}/signing-keys`],
    ['GET', `/v1/webhooks/${hook.sid}/signing-keys`], ['GET', `/v1/webhooks/${hook.sid}/signing-keys/${keyId}`],
    ['PATCH', `/v1/webhooks/${hook.sid}/signing-keys/${keyId}`], ['POST', '/v1/api-keys'], ['GET', '/v1/api-keys'],
    ['POST', '/v1/events'], ['DELETE', '/v1/webhooks/wh_notthere'], ['DELETE', '/v1/api-keys/key_notthere'],
    ['DELETE', `/v1/webhooks/${hook.sid}/signing-keys/${keyId}`],
  ]);
}

function randomRequest() {
  let method = pick(['GET', 'GET', 'POST', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS']);
  let url = randomPath() + randomQuery();
  if (chance(0.7)) {
    const [m, p] = realRoute();
    method = m;
    url = p + randomQuery();
  }
  const headers = {};
  const auth = int(10);
  if (auth < 5) headers.authorization = `Basic ${Buffer.from(stack.bootstrapKey).toString('base64')}`;
  else if (auth < 7) headers.authorization = `Basic ${Buffer.from(companyAuth).toString('base64')}`;
  else if (auth < 8) headers.authorization = pick(['Basic', 'Basic !!!', 'Bearer x', `Basic ${Buffer.from('a:b').toString('base64')}`, `Basic ${'QUFB'.repeat(300)}`]);
  const ct = pick(cts);
  if (ct) headers['content-type'] = ct;
  if (chance(0.3)) headers['idempotency-key'] = chance(0.9) ? `fz-${int(20)}` : 'k'.repeat(200 + int(100));
  if (chance(0.1)) headers['x-request-id'] = pick(['req_fuzz', 'bad id', 'x'.repeat(100)]);
  let body;
  if (method !== 'GET' && method !== 'HEAD' && chance(0.9)) body = mutate(JSON.stringify(pick(validBodies())));
  return { method, url, headers, body };
}

async function send(r) {
  const init = { method: r.method, headers: r.headers, body: r.body, redirect: 'manual', signal: AbortSignal.timeout(10000) };
  const res = await fetch(stack.apiServer.baseUrl + r.url, init);
  await res.arrayBuffer();
  return res.status;
}

// ------------------------------------------------------------------- runs

test(`${N} mangled requests: no 5xx but 503, no hang, same workers afterwards`, async () => {
  const pgid = stack.apiServer.proc.pid;
  const before = groupPids(pgid);
  assert.ok(before.length >= 3, `the launcher, Kore and its workers: ${before}`);
  const mark = logsSince(0).length ? logsSince(0).at(-1).seq : 0;

  const bad = [];
  const statuses = {};
  let next = 0;
  async function worker() {
    while (next < N) {
      const r = randomRequest();
      next += 1;
      let status;
      try {
        status = await send(r);
      } catch (err) {
        // A refused request line (Kore closes at once) is fine; a timeout is not.
        if (err.name === 'TimeoutError') bad.push({ ...r, body: r.body?.subarray(0, 200).toString(), error: 'timeout' });
        status = 'closed';
      }
      statuses[status] = (statuses[status] || 0) + 1;
      if (typeof status === 'number' && status >= 500 && status !== 503) {
        bad.push({ ...r, body: r.body?.subarray(0, 200).toString(), status });
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  process.stderr.write(`api-fuzz: statuses ${JSON.stringify(statuses)}\n`);
  assert.deepEqual(bad.slice(0, 5), [], `seed ${SEED}: ${bad.length} bad answers`);
  assert.ok((statuses.closed || 0) < N / 10, `few connections closed: ${statuses.closed}`);

  const health = await Promise.all(Array.from({ length: 20 }, () => send({ method: 'GET', url: '/healthz', headers: {} })));
  assert.ok(health.every((s) => s === 200), `healthz: ${health}`);
  assert.deepEqual(groupPids(pgid), before, 'no worker died or was replaced');
  const deaths = logsSince(mark, ['api']).filter((l) => /exited|signal|crash|fatal|sanitizer/i.test(l.text));
  assert.deepEqual(deaths.map((l) => l.text), [], 'no worker death in the log');
});

// Raw bytes on a socket, no HTTP client to tidy them: broken request lines,
// headers without colons, lying Content-Length, chunked bodies, NULs.
function raw(bytes) {
  return new Promise((resolve) => {
    const s = net.connect(stack.apiServer.port, '127.0.0.1');
    let got = '';
    const done = () => {
      s.destroy();
      resolve(got);
    };
    s.setTimeout(3000, done);
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    s.on('error', done);
    s.on('close', done);
    s.on('connect', () => {
      s.write(bytes);
      setTimeout(() => s.end(), 50);
    });
  });
}

test('raw malformed HTTP: answered or closed, never a 5xx but 503/505, workers unchanged', async () => {
  const pgid = stack.apiServer.proc.pid;
  const before = groupPids(pgid);
  const auth = `Authorization: Basic ${Buffer.from(stack.bootstrapKey).toString('base64')}\r\n`;
  const cases = [
    'GET\r\n\r\n', 'GET / HTTP/1.1\r\n\r\n', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', '\r\n\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n', `GET /${'a'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`,
    `POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":1}`,
    `POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}`,
    `POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    `POST /v1/webhooks HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n`,
    `PATCH /v1/webhooks/${hook.sid} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\n\r\n{"\u0000`,
    `GET /v1/webhooks?company_sid=${company}&page_token=%00%00 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n`,
    `BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, `GET /healthz HTTP/1.1\r\nHost:\r\n\r\n`,
    `GET /healthz\u0000 HTTP/1.1\r\nHost: x\r\n\r\n`, `GET /v1/webhooks HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \u00ff\u00fe\r\n\r\n`,
  ];
  for (let i = 0; i < 150; i++) cases.push(Buffer.from(Array.from({ length: 1 + int(400) }, () => int(256))));
  for (let i = 0; i < 50; i++) cases.push(`${pick(['GET', 'POST', 'X'])} ${randomPath()}${randomQuery()} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
  const answers = [];
  for (let i = 0; i < cases.length; i += 25) {
    answers.push(...await Promise.all(cases.slice(i, i + 25).map((c) => raw(typeof c === 'string' ? Buffer.from(c, 'latin1') : c))));
  }
  // 503 (Redis) and Kore's own 505 (HTTP/9.9) are right answers.
  const fives = answers.map((a) => /^HTTP\/1\.[01] (\d{3})/.exec(a)?.[1])
    .filter((s) => s && s[0] === '5' && s !== '503' && s !== '505');
  assert.deepEqual(fives, [], `seed ${SEED}: 5xx answers`);
  assert.equal((await fetch(`${stack.apiServer.baseUrl}/healthz`)).status, 200);
  assert.deepEqual(groupPids(pgid), before, 'no worker died or was replaced');
});

test('Redis killed under load: 503s, no hang, no crash; the api recovers', async () => {
  const pgid = stack.apiServer.proc.pid;
  const before = groupPids(pgid);
  const statuses = {};
  let stop = false;
  async function worker() {
    while (!stop) {
      let status;
      try {
        status = await send(randomRequest());
      } catch (err) {
        status = err.name === 'TimeoutError' ? 'timeout' : 'closed';
      }
      statuses[status] = (statuses[status] || 0) + 1;
    }
  }
  const load = Promise.all(Array.from({ length: 16 }, worker));
  await sleep(300);
  await stack.redis.kill();
  await sleep(700);
  await stack.redis.start();
  // The data died with it: put the admin key back, as the launcher would.
  const [id, secret] = stack.bootstrapKey.split(':');
  await stack.redis.call('HSET', KEYS.apikey(id), 'secret_sha256', sha256hex(secret), 'company_sid', '*');
  await waitUntil(async () => {
    const r = await fetch(`${stack.apiServer.baseUrl}/healthz`);
    return (await r.json()).redis === 'connected';
  }, { timeoutMs: 10000, what: 'the api to reconnect to Redis' });
  stop = true;
  await load;
  process.stderr.write(`api-fuzz: with Redis killed: ${JSON.stringify(statuses)}\n`);
  const bad = Object.keys(statuses).filter((s) => s === 'timeout' || (Number(s) >= 500 && s !== '503'));
  assert.deepEqual(bad, [], JSON.stringify(statuses));
  assert.ok(statuses[503] > 0, 'some requests met the outage');
  const w = await stack.api('POST', '/v1/webhooks', { company_sid: company, url: 'https://example.com/after' });
  assert.equal(w.status, 201, w.text);
  assert.deepEqual(groupPids(pgid), before, 'no worker died or was replaced');
});
