// Checks and small clients shared by the test files: a delivered request
// verified both ways, RFC 9457 problems, API keys made through the api, webhooks, and walking a list
// through its page tokens.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { Webhook } from 'standardwebhooks';
import { verifyStreem } from './streem.js';
import { REPO_ROOT } from './harness.js';

export const RFC3339_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function assertJson(res) {
  assert.match(res.contentType, /^application\/json\b/, `Content-Type of ${res.status} answer: ${res.text}`);
}

// The problem types api/openapi.yaml documents (schema Problem, property
// type): "/problems/<kind>" -> its status (each description starts "NNN:").
let problemTypes;
export function documentedProblemTypes() {
  if (!problemTypes) {
    const doc = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'api', 'openapi.yaml'), 'utf8'));
    problemTypes = new Map(doc.components.schemas.Problem.properties.type.oneOf
      .map((t) => [t.const, Number(/^(\d{3}):/.exec(t.description)[1])]));
  }
  return problemTypes;
}

// RFC 9457: {type, title, status, detail, errors?} as application/problem+json,
// with the request id both in the body and in X-Request-Id. The type is one
// that api/openapi.yaml lists, for this status: every problem any test
// checks holds the api to its documented list.
export function assertProblem(res, statuses) {
  const want = [].concat(statuses);
  assert.ok(want.includes(res.status), `status ${res.status} not in ${want}: ${res.text}`);
  assert.match(res.contentType, /^application\/problem\+json\b/, `Content-Type: ${res.contentType} (${res.text})`);
  const p = res.json;
  assert.ok(p && typeof p === 'object', `problem body is JSON: ${res.text}`);
  assert.equal(typeof p.type, 'string', 'problem.type');
  assert.equal(documentedProblemTypes().get(p.type), res.status, `problem.type ${p.type} is documented for ${res.status}`);
  assert.equal(typeof p.title, 'string', 'problem.title');
  assert.equal(p.status, res.status, 'problem.status equals the HTTP status');
  assert.equal(typeof p.detail, 'string', 'problem.detail');
  assert.equal(p.request_id, res.headers.get('x-request-id'), 'request_id equals X-Request-Id');
  if ('errors' in p) {
    assert.ok(Array.isArray(p.errors), 'problem.errors is an array');
    for (const e of p.errors) {
      assert.equal(typeof e.field, 'string', 'errors[].field');
      assert.equal(typeof e.message, 'string', 'errors[].message');
    }
  }
  return p;
}

// One request written byte for byte on its own connection (Connection:
// close), so a test can repeat a header or choose the source address
// (localAddress, e.g. 127.0.0.2: the api sees it as the client). A body's
// Content-Length is added after the headers unless they hold one. headers:
// [[name, value], ...] in order. Resolves like the harness' api():
// {status, headers, contentType, text, json}.
export function rawRequest(baseUrl, { method = 'GET', path = '/', headers = [], body, localAddress, timeoutMs = 10000 }) {
  const u = new URL(baseUrl);
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${u.host}`, 'Connection: close'];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body !== undefined && !headers.some(([k]) => k.toLowerCase() === 'content-length')) lines.push(`Content-Length: ${payload.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port), localAddress });
    const chunks = [];
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`rawRequest ${method} ${path}: timeout`)));
    s.on('connect', () => s.write(Buffer.concat([head, payload])));
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => {
      const all = Buffer.concat(chunks).toString('latin1');
      const end = all.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      if (end === -1 || !m) return reject(new Error(`rawRequest ${method} ${path}: no answer: ${JSON.stringify(all.slice(0, 200))}`));
      const h = new Headers();
      for (const line of all.slice(0, end).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      const text = Buffer.from(all.slice(end + 4), 'latin1').toString('utf8');
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status: Number(m[1]), statusLine: all.slice(0, all.indexOf('\r\n')), headers: h, contentType: h.get('content-type') || '', text, json });
    });
  });
}

// The problem names `field` in errors[].field (exactly, or as the start of
// a nested name such as headers[0].name).
export function assertNamesField(problem, field) {
  const names = (problem.errors || []).map((e) => e.field);
  assert.ok(
    names.some((n) => n === field || n.startsWith(`${field}.`) || n.startsWith(`${field}[`)),
    `problem names the field "${field}": ${JSON.stringify(problem)}`,
  );
}

// One bad input: the answer is a problem with `status` naming `field`.
export async function expectFieldError(call, status, field) {
  const res = await call();
  const p = assertProblem(res, status);
  assertNamesField(p, field);
  return p;
}

// A company API key made by the admin key: "key_id:secret".
export async function companyKey(api, company, label = 'e2e') {
  const res = await api('POST', '/v1/api-keys', { company_sid: company, label });
  assert.equal(res.status, 201, res.text);
  const k = res.json.api_key;
  return { id: k.key_id, secret: k.secret, auth: `${k.key_id}:${k.secret}`, key: k };
}

let urlSeq = 0;

// A webhook for company (admin key unless opts.key), returned as answered.
export async function createWebhook(api, company, fields = {}, opts = {}) {
  urlSeq += 1;
  const body = { url: `https://example.com/hook/${urlSeq}`, ...fields };
  if (company) body.company_sid = company;
  const res = await api('POST', '/v1/webhooks', { webhook: body }, opts);
  assert.equal(res.status, 201, res.text);
  return res.json.webhook;
}

// Every item of a list, page by page; also returns the pages.
export async function listAll(api, path, params = {}, { key, name, maxPages = 200 } = {}) {
  const items = [];
  const pages = [];
  let token = null;
  for (let i = 0; i < maxPages; i++) {
    const q = new URLSearchParams({ ...params, ...(token ? { page_token: token } : {}) });
    const res = await api('GET', `${path}?${q}`, undefined, key ? { key } : {});
    assert.equal(res.status, 200, res.text);
    pages.push(res.json[name]);
    items.push(...res.json[name]);
    token = res.json.next_page_token;
    if (token === null) return { items, pages };
  }
  throw new Error(`${path}: more than ${maxPages} pages`);
}

// The api's order: by value (bytes, or numbers), then sid (bytes).
export function byValueThenSid(value, desc = false) {
  const cmpBytes = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return (x, y) => {
    const vx = value(x);
    const vy = value(y);
    let c = typeof vx === 'number' ? Math.sign(vx - vy) : cmpBytes(vx, vy);
    if (c === 0) c = cmpBytes(x.sid, y.sid);
    return desc ? -c : c;
  };
}

export const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex');

export const rnd = (n = 6) => crypto.randomBytes(n).toString('hex');

// One received request checked like a customer would: webhook-id, body
// shape, Streem-Sent-At within 500 ms of the receiver's clock at arrival,
// Streem-Signature (our validator of the documented scheme) and
// webhook-signature (the official standardwebhooks library), every key.
export function checkSigned(req, keys, eventSid, where) {
  const h = req.headers;
  let body;
  assert.doesNotThrow(() => {
    body = JSON.parse(req.text);
  }, `${where}: body is JSON: ${req.text}`);
  assert.equal(h['webhook-id'], eventSid, `${where}: webhook-id`);
  assert.equal(body.event?.event_sid, eventSid, `${where}: event.event_sid`);
  assert.match(body.sent_at || '', RFC3339_MS_Z, `${where}: sent_at`);
  assert.equal(h['streem-sent-at'], body.sent_at, `${where}: Streem-Sent-At equals sent_at`);
  const ts = Number(h['webhook-timestamp']);
  assert.ok(Math.abs(ts - Math.floor(Date.parse(body.sent_at) / 1000)) <= 1, `${where}: webhook-timestamp ${ts} is the attempt's time ${body.sent_at}`);
  const v = verifyStreem({ headers: h, body: req.body, secrets: keys.map((k) => k.shared_secret), now: req.receivedAt, toleranceMs: 500 });
  assert.ok(v.ok, `${where}: Streem signature/time: ${v.reason}`);
  for (const k of keys) {
    assert.doesNotThrow(
      () => new Webhook(k.standard_webhooks_secret).verify(req.body, h),
      `${where}: webhook-signature verifies with ${k.sid}`,
    );
  }
  return body;
}
