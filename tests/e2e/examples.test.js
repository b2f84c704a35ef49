// The receivers of examples/receivers (Node, Python, Go, Ruby, PHP) against
// real deliveries: each gets its own webhook and a real event from the
// dispatcher (through a recording proxy, so that the test holds the exact
// request), which it must accept with both signatures verified; then the
// test sends that request again straight to the receiver, exactly and
// tampered (body, a signed custom header, webhook-id, an old
// webhook-timestamp correctly re-signed, an unsigned time, unreadable
// times, no signatures, an oversized body, also chunked), and last, once
// the receivers' Streem-Sent-At tolerance has passed, exactly again (a
// replay). Each answer and each result line the receiver prints
// ("accepted|refused streem=<r> standard=<r>") is checked.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  REPO_ROOT,
  Proc,
  createWebhook,
  fatal,
  freePort,
  publishEvents,
  sleep,
  startStack,
  useHarness,
  waitUntil,
} from './lib/harness.js';

useHarness();

const run = promisify(execFile);
const DIR = path.join(REPO_ROOT, 'examples', 'receivers');
const COMPANY = 'CO_examples';
// The receivers' Streem-Sent-At tolerance: wide enough for a loaded machine
// between the delivery and the last fresh replay, short enough to wait out.
const TOLERANCE_MS = 5000;
const MAX_BODY = 1 << 20;
const PAYLOAD = '{"call_sid":"CA_1","note":"h\u00e9llo \u2713"}'; // not only ASCII
const GO_BIN = path.join(REPO_ROOT, 'build', 'examples', 'go-receiver');

// How each example is started on a port (the README's commands).
const EXAMPLES = {
  node: (port) => ({ file: 'node', args: ['receiver.mjs'], env: { PORT: port } }),
  python: (port) => ({ file: 'python3', args: ['receiver.py'], env: { PORT: port } }),
  go: (port) => ({ file: GO_BIN, args: [], env: { PORT: port } }),
  ruby: (port) => ({ file: 'ruby', args: ['receiver.rb'], env: { PORT: port } }),
  php: (port) => ({ file: 'php', args: ['-q', '-S', `127.0.0.1:${port}`, 'receiver.php'], env: {} }),
};
const LANGS = Object.keys(EXAMPLES);

// The toolchains (make deps installs them), the node example's own
// dependency (npm ci, as for tests/e2e) and the Go example's binary, built
// with a cache under build/ (CI runs offline, as root).
async function prepare() {
  for (const tool of ['node', 'npm', 'python3', 'go', 'ruby', 'php']) {
    await run('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`${tool} is not installed: make deps installs it`);
    });
  }
  await run('sh', ['-c', 'npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --silent'], {
    cwd: path.join(DIR, 'node'),
  });
  await run('go', ['build', '-o', GO_BIN, '.'], {
    cwd: path.join(DIR, 'go'),
    env: { ...process.env, GOCACHE: path.join(REPO_ROOT, 'build', 'go-cache'), GOPATH: path.join(REPO_ROOT, 'build', 'go'), GOTOOLCHAIN: 'local' },
    timeout: 300000,
  });
}

// Resolves once something accepts connections on port; fails at once if
// the receiver died.
function listening(port, proc) {
  return waitUntil(
    () => {
      if (!proc.running) throw fatal(`${proc.name} exited: ${proc.tail()}`);
      return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.end(() => resolve(true)));
        s.on('error', () => resolve(false));
      });
    },
    { timeoutMs: 20000, what: `${proc.name} listening on ${port}` },
  );
}

// One HTTP request; resolves with the answer's status. A receiver that
// refuses an oversized body answers before reading it and closes, so an
// error once the answer is in (a reset while the body is still sent) is
// not a failure.
// A receiver that refuses a body too large answers before reading it
// and closes; the kernel then resets the connection under the rest of
// the body, and the client may see the reset (EPIPE, ECONNRESET) before
// the answer: that is 'reset' here, and the receiver's printed line still
// says what it decided.
function send(port, { method, url, rawHeaders, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers: rawHeaders, agent: false }, (res) => {
      res.on('error', () => {});
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', (err) => (['EPIPE', 'ECONNRESET'].includes(err.code) ? resolve('reset') : reject(err)));
    req.end(body);
  });
}

// rawHeaders ([name, value, ...]) with name's value replaced (any case),
// or the name removed when value is null.
function withHeader(raw, name, value) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== name.toLowerCase()) out.push(raw[i], raw[i + 1]);
    else if (value !== null) out.push(raw[i], value);
  }
  return out;
}

const header = (raw, name) => raw[raw.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === name.toLowerCase()) + 1];

// The receivers' result lines so far ("accepted ..." / "refused ...").
function results(proc) {
  return `${proc.output.stdout}\n${proc.output.stderr}`.split('\n').filter((l) => /^(accepted|refused) /.test(l));
}

// Standard Webhooks' signature of a request, made here with the secret.
function standardSignature(secret, id, ts, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = crypto.createHmac('sha256', key).update(`${id}.${ts}.`).update(body);
  return `v1,${mac.digest('base64')}`;
}

const ex = {}; // lang -> {port, proc, keys, delivered}
let stack;
let proxy;

before(async () => {
  await prepare();
  stack = await startStack();
  // The dispatcher delivers to the proxy (/<lang>/...), which records the
  // request and passes it to that receiver, its answer back.
  proxy = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const lang = req.url.split('/')[1];
      const r = { method: req.method, url: req.url, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) };
      try {
        r.status = await send(ex[lang].port, r);
      } catch (err) {
        r.status = 502;
        r.error = err.message;
      }
      ex[lang].delivered ??= r;
      res.writeHead(r.status).end();
    });
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  for (const lang of LANGS) {
    const { webhook, keys } = await createWebhook(stack, {
      company_sid: COMPANY,
      label: `example ${lang}`,
      url: `http://127.0.0.1:${proxy.address().port}/${lang}/hook`,
      event_types: [`example.${lang}`],
      headers: [{ name: 'X-Tenant', value: 'acme', include_in_request_signature: true }],
    });
    const port = await freePort();
    const how = EXAMPLES[lang](port);
    const proc = new Proc(`example-${lang}`, how.file, how.args, {
      cwd: path.join(DIR, lang),
      env: {
        ...how.env,
        SHARED_SECRET: keys[0].shared_secret,
        STANDARD_WEBHOOKS_SECRET: keys[0].standard_webhooks_secret,
        STREEM_TOLERANCE_MS: TOLERANCE_MS,
      },
    }).start();
    ex[lang] = { port, proc, keys, webhook };
    await listening(port, proc);
  }
});

after(async () => {
  for (const lang of LANGS) await ex[lang]?.proc.stop();
  proxy?.closeAllConnections();
  await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve()));
});

// Sends a request to lang's receiver; resolves with {status, line} once the
// receiver printed its line for it.
async function check(lang, request) {
  const { port, proc } = ex[lang];
  const seen = results(proc).length;
  const status = await send(port, request);
  await waitUntil(() => results(proc).length > seen, { timeoutMs: 5000, what: `${lang}: a result line` });
  return { status, line: results(proc)[seen] };
}

describe('examples/receivers verify real deliveries', () => {
  for (const lang of LANGS) {
    test(`${lang}: accepts the real delivery; refuses each tampered copy`, async () => {
      await publishEvents(stack.redis, [{ company_sid: COMPANY, event_type: `example.${lang}`, payload: PAYLOAD }]);
      const d = await waitUntil(() => ex[lang].delivered, { timeoutMs: 15000, what: `${lang}: the delivery` });
      assert.equal(d.status, 204, `${lang}: the real delivery is answered 204 (${d.error || results(ex[lang].proc)})`);
      assert.deepEqual(results(ex[lang].proc), ['accepted streem=ok standard=ok'], `${lang}: one line, both verified`);
      assert.equal(header(d.rawHeaders, 'Streem-Signature-Headers'), 'Streem-Sent-At:X-Tenant');

      const secret = ex[lang].keys[0].standard_webhooks_secret;
      const id = header(d.rawHeaders, 'webhook-id');
      const oldTs = String(Math.floor(Date.now() / 1000) - 6 * 60);
      const cases = [
        ['the same request again (within the tolerance)', d, 204, 'accepted streem=ok standard=ok'],
        ['a tampered body', { ...d, body: Buffer.from(d.body.toString().replace('CA_1', 'CA_2')) }, 401,
          'refused streem=bad-signature standard=bad-signature'],
        ['a tampered signed header', { ...d, rawHeaders: withHeader(d.rawHeaders, 'X-Tenant', 'acmf') }, 401,
          'refused streem=bad-signature standard=ok'],
        ['a tampered webhook-id', { ...d, rawHeaders: withHeader(d.rawHeaders, 'webhook-id', `${id}x`) }, 401,
          'refused streem=ok standard=bad-signature'],
        ['webhook-timestamp 6 min old, correctly signed', {
          ...d,
          rawHeaders: withHeader(withHeader(d.rawHeaders, 'webhook-timestamp', oldTs),
            'webhook-signature', standardSignature(secret, id, oldTs, d.body)),
        }, 401, 'refused streem=ok standard=stale'],
        ['Streem-Sent-At not signed first', {
          ...d, rawHeaders: withHeader(d.rawHeaders, 'Streem-Signature-Headers', 'X-Tenant:Streem-Sent-At'),
        }, 401, 'refused streem=bad-header-list standard=ok'],
        ['times that are not times', {
          ...d,
          rawHeaders: withHeader(withHeader(d.rawHeaders, 'Streem-Sent-At', 'yesterday'), 'webhook-timestamp', 'soon'),
        }, 401, 'refused streem=bad-timestamp standard=bad-timestamp'],
        ['no signatures', {
          ...d, rawHeaders: withHeader(withHeader(d.rawHeaders, 'Streem-Signature', null), 'webhook-signature', null),
        }, 401, 'refused streem=missing-header standard=missing-header'],
        ['a body over 1 MiB', {
          ...d,
          rawHeaders: withHeader(d.rawHeaders, 'Content-Length', String(MAX_BODY + 1)),
          body: Buffer.alloc(MAX_BODY + 1, 0x20),
        }, 413, 'refused too-large'],
        // Python's http.server cannot read a chunked body at all.
        ['a chunked body over 1 MiB', {
          ...d,
          rawHeaders: [...withHeader(d.rawHeaders, 'Content-Length', null), 'Transfer-Encoding', 'chunked'],
          body: Buffer.alloc(MAX_BODY + 1, 0x20),
        }, ...(lang === 'python' ? [411, 'refused no-length'] : [413, 'refused too-large'])],
      ];
      for (const [what, request, status, line] of cases) {
        const got = await check(lang, request);
        const age = Date.now() - Date.parse(header(d.rawHeaders, 'Streem-Sent-At'));
        // Only a refusal of a body over the limit may come as a reset.
        if (got.status === 'reset' && (status === 413 || status === 411)) got.status = status;
        assert.deepEqual(got, { status, line }, `${lang}, ${what} (${age} ms after the delivery)`);
      }
    });
  }

  test('each refuses the real delivery replayed after the Streem-Sent-At tolerance', async () => {
    const sent = LANGS.map((lang) => Date.parse(header(ex[lang].delivered.rawHeaders, 'Streem-Sent-At')));
    await sleep(Math.max(0, Math.max(...sent) + TOLERANCE_MS + 500 - Date.now()));
    for (const lang of LANGS) {
      const got = await check(lang, ex[lang].delivered);
      assert.deepEqual(got, { status: 401, line: 'refused streem=stale standard=ok' }, `${lang}: a stale replay`);
    }
  });
});
