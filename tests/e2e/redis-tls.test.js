// Redis over TLS (issue 19): both programs reach Redis through rediss://
// with the certificate verified, a client certificate of their own, and
// the whole delivery path over it: events published over HTTP and by a
// direct XADD (redis-cli --tls), deliveries verified, a retry, a dead
// letter, ~test, ~recover, and a Redis restart with nothing lost.
// Refusals each name their cause in one log line and the program does not
// serve: a certificate from another CA, an expired one, one for another
// host name, a server that demands a client certificate when none is
// configured. WH_REDIS_TLS_INSECURE=1 connects and warns.
//
// The certificates are made with openssl at test time. The test's own
// commands use Redis' plain port (the harness' RESP client has no TLS);
// the programs are only ever given the TLS port.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import {
  BIN,
  KEYS,
  createWebhook,
  deadLetters,
  newBootstrapKey,
  programEnv,
  randomHex,
  runToExit,
  sleep,
  startApi,
  startReceiver,
  startRedis,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { TestPki } from './lib/certs.js';
import { checkSigned } from './lib/checks.js';
import { verifyStreem } from './lib/streem.js';

useHarness();

let pki;
const file = (name) => pki.file(name);
const serverTls = (cert, authClients) => pki.serverTls(cert, authClients);
const clientEnv = () => pki.clientEnv();

function redisCliTls(redis, ...args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['--tls', '--cacert', file('ca.crt'), '--cert', file('client.crt'),
      '--key', file('client.key'), '-h', 'localhost', '-p', String(redis.tlsPort), ...args],
    { timeout: 10000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli --tls ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

before(() => {
  pki = new TestPki().ca('other-ca')
    .cert('server')
    .cert('client', { san: 'DNS:client' })
    .cert('foreign', { ca: 'other-ca' })
    .cert('expired', { days: 0 })
    .cert('elsewhere', { san: 'DNS:redis.elsewhere.example' });
});

after(() => pki?.dispose());

const newEventSid = (tag) => `evt_${tag}_${randomHex(8)}`;

describe('the delivery path over TLS', () => {
  let stack;

  before(async () => {
    // An entry whose reading the Redis restart cut off is claimed again
    // after WH_CLAIM_IDLE_MS: 3 s here (35 s by default), as the other
    // restart and failover tests do.
    stack = await startStack({ redis: { tls: serverTls('server'), appendonly: true },
      env: { ...clientEnv(), WH_CLAIM_IDLE_MS: '3000' } });
  });

  test('the programs talk to the TLS port only, and /readyz is 200', async () => {
    assert.match(stack.redis.url, /^rediss:\/\/localhost:\d+\/0$/);
    const clients = await stack.redis.call('CLIENT', 'LIST');
    const plainPort = `:${stack.redis.port}`;
    // Every client of ours came in on the TLS port: redis-server lists
    // the local address (laddr) each client connected to.
    const ours = clients.split('\n').filter((l) => !l.includes(`laddr=127.0.0.1${plainPort} `));
    assert.ok(ours.length >= 3, `api workers and the dispatcher over TLS:\n${clients}`);
    const ready = await stack.api('GET', '/readyz');
    assert.equal(ready.status, 200, ready.text);
  });

  test('published over HTTP and by redis-cli --tls XADD: both delivered, signed', async () => {
    const company = 'CO_tls1';
    const rcv = await startReceiver();
    const { keys } = await createWebhook(stack, { company_sid: company, label: 'tls', url: rcv.url('/tls') });
    const viaHttp = newEventSid('http');
    const viaCli = newEventSid('cli');
    const res = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended',
      event_sid: viaHttp, payload: { n: 1 } });
    assert.equal(res.status, 202, res.text);
    const id = await redisCliTls(stack.redis, 'XADD', KEYS.events, '*', 'company_sid', company,
      'event_type', 'call.ended', 'payload', '{"n":2}', 'event_sid', viaCli);
    assert.match(id, /^\d+-\d+$/);
    const reqs = await rcv.waitFor(2, 15000);
    assert.deepEqual(reqs.map((r) => r.headers['webhook-id']).sort(), [viaHttp, viaCli].sort());
    for (const r of reqs) checkSigned(r, keys, r.headers['webhook-id'], r.headers['webhook-id']);
    await waitQueuesIdle(stack.redis);
    await sleep(300);
    assert.equal(rcv.requests.length, 2, 'no duplicates');
  });

  test('a retry (500 then 200) and a dead letter (always 500)', async () => {
    const company = 'CO_tls2';
    const flaky = await startReceiver({ respond: (r) => (r.index === 0 ? { status: 500 } : { status: 200 }) });
    const bad = await startReceiver({ status: 500, body: 'no' });
    await createWebhook(stack, { company_sid: company, label: 'flaky', url: flaky.url('/f') });
    const { webhook: dead } = await createWebhook(stack, { company_sid: company, label: 'dead', url: bad.url('/d'), max_attempts: 1 });
    const eventSid = newEventSid('retry');
    assert.equal((await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'a.b', event_sid: eventSid,
      payload: { x: 1 } })).status, 202);
    await flaky.waitFor(2, 15000);
    await waitUntil(async () => (await deadLetters(stack.redis, { eventSid })).length === 1, { what: 'the dead letter' });
    const listed = await stack.api('GET', `/v1/webhooks/${dead.sid}/dead-letters`);
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.dead_letters.length, 1);

    // ~recover: the dead letter delivered again, as a job.
    bad.defaults.status = 200;
    const rec = await stack.api('POST', `/v1/webhooks/${dead.sid}/~recover`, { since: '2020-01-01T00:00:00Z', until: '2999-01-01T00:00:00Z' });
    assert.equal(rec.status, 202, rec.text);
    await bad.waitFor(2, 15000);
    await waitUntil(async () => (await stack.api('GET', `/v1/jobs/${rec.json.job.sid}`)).json?.job?.state === 'done',
      { what: 'the ~recover job to finish' });
  });

  test('~test: one signed delivery now, its outcome answered', async () => {
    const rcv = await startReceiver();
    const { webhook } = await createWebhook(stack, { company_sid: 'CO_tls3', label: 'test', url: rcv.url('/t') });
    const res = await stack.api('GET', `/v1/webhooks/${webhook.sid}/~test`);
    assert.equal(res.status, 200, res.text);
    assert.equal(rcv.requests.length, 1);
    assert.match(rcv.requests[0].text, /webhook\.test/);
  });

  test('backpressure: large events written while Redis is frozen arrive intact (partial TLS writes)', async () => {
    // 60 events of ~200 KiB at once while redis-server is stopped: each
    // api worker queues megabytes that the socket takes in pieces once
    // Redis reads again (SSL_write repeated with what it wanted). Any
    // byte lost or doubled would corrupt the stream (a protocol error) or
    // a payload (its signature check fails at the receiver).
    const company = 'CO_tls5';
    const rcv = await startReceiver();
    const { keys } = await createWebhook(stack, { company_sid: company, label: 'big', url: rcv.url('/b') });
    const pid = stack.redis.proc.pid;
    const sids = Array.from({ length: 60 }, (_, i) => newEventSid(`big${i}`));
    const blobs = new Map(sids.map((sid) => [sid, randomHex(100 * 1024)]));
    process.kill(pid, 'SIGSTOP');
    let answers;
    try {
      const pending = sids.map((sid, i) => stack.api('POST', '/v1/events', { company_sid: company, event_type: 'a.b',
        event_sid: sid, payload: { i, blob: blobs.get(sid) } }, { timeoutMs: 30000 }));
      await sleep(1500);
      process.kill(pid, 'SIGCONT');
      answers = await Promise.all(pending);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const accepted = sids.filter((_, i) => answers[i].status === 202);
    for (const a of answers) assert.ok([202, 503].includes(a.status), a.text);
    assert.ok(accepted.length >= 1, `some accepted: ${answers.map((a) => a.status).join(',')}`);
    await waitUntil(() => accepted.every((s) => rcv.requests.some((r) => r.headers['webhook-id'] === s)),
      { timeoutMs: 30000, what: `the ${accepted.length} accepted large events delivered` });
    // Signed and whole (the time is not the point here: 200 KiB bodies
    // on a loaded machine).
    for (const r of rcv.requests) {
      const sid = r.headers['webhook-id'];
      assert.ok(r.text.includes(`"blob":"${blobs.get(sid)}"`), `${sid}: the payload byte for byte`);
      const v = verifyStreem({ headers: r.headers, body: r.body, secrets: keys.map((k) => k.shared_secret), checkTime: false });
      assert.ok(v.ok, `${sid}: ${v.reason}`);
    }
    // The connections are sound afterwards: a small publish goes through.
    const after = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'a.b', payload: { ok: 1 } });
    assert.equal(after.status, 202, after.text);
  });

  test('Redis restarted (TLS, append-only) under publishing: nothing accepted is lost', async () => {
    const company = 'CO_tls4';
    const rcv = await startReceiver();
    await createWebhook(stack, { company_sid: company, label: 'restart', url: rcv.url('/r') });
    const accepted = new Set();
    let stop = false;
    let n = 0;
    const publisher = (async () => {
      while (!stop) {
        const sid = newEventSid(`r${n++}`);
        const res = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'a.b', event_sid: sid, payload: { n } })
          .catch(() => null);
        if (res?.status === 202) accepted.add(sid);
        await sleep(20);
      }
    })();
    await waitUntil(() => accepted.size >= 20, { what: '20 accepted before the restart' });
    await stack.redis.restart();
    const before = accepted.size;
    await waitUntil(() => accepted.size >= before + 20, { timeoutMs: 20000, what: '20 more accepted after the restart' });
    stop = true;
    await publisher;
    const got = () => new Set(rcv.requests.map((r) => r.headers['webhook-id']));
    await waitUntil(() => [...accepted].every((s) => got().has(s)),
      { timeoutMs: 30000, what: `all ${accepted.size} accepted events delivered` });
  });
});

describe('refusals: the cause in the log, the program not serving', () => {
  // Start each program against a Redis with this certificate; it must
  // exit non-zero at start with one line naming cause.
  async function refused(redis, env, cause) {
    for (const bin of [BIN.api, BIN.dispatcher]) {
      const r = await runToExit(bin, {
        env: programEnv({ redis, apiPort: 1, bootstrapKey: newBootstrapKey(), env }),
        timeoutMs: 15000,
      });
      assert.equal(r.timedOut, false, `${path.basename(bin)} did not stop`);
      assert.notEqual(r.code, 0, `${path.basename(bin)} must not serve:\n${r.stderr}`);
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const line = lines.find((l) => /cannot reach Redis/.test(l.msg));
      assert.ok(line, `${path.basename(bin)}: a "cannot reach Redis" line:\n${r.stderr}`);
      assert.match(line.error, cause, `${path.basename(bin)}: ${line.error}`);
    }
  }

  test('a certificate from another CA: unknown CA', async () => {
    const redis = await startRedis({ tls: serverTls('foreign', 'no') });
    await refused(redis, clientEnv(), /unknown CA/);
  });

  test('an expired certificate', async () => {
    await sleep(1100); // made with -days 0: expired once a second has passed
    const redis = await startRedis({ tls: serverTls('expired', 'no') });
    await refused(redis, clientEnv(), /expired certificate/);
  });

  test('a certificate for another host name', async () => {
    const redis = await startRedis({ tls: serverTls('elsewhere', 'no') });
    await refused(redis, clientEnv(), /host name mismatch.*localhost/);
  });

  test('the server demands a client certificate and none is configured', async () => {
    const redis = await startRedis({ tls: serverTls('server', 'yes') });
    await refused(redis, { WH_REDIS_TLS_CA_FILE: file('ca.crt') }, /asks for a client certificate/);
  });

  test('a server that accepts but never answers the handshake: handshake timed out', async () => {
    const sockets = new Set();
    const server = net.createServer((s) => sockets.add(s));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const r = await runToExit(BIN.api, {
        env: programEnv({ redis: { url: `rediss://localhost:${server.address().port}/0` }, apiPort: 1,
          bootstrapKey: newBootstrapKey(), env: clientEnv() }),
        timeoutMs: 15000,
      });
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /cannot reach Redis.*handshake timed out/, r.stderr);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  test('refused after start (the server now shows another CA): /readyz 503 says why, then past the connection again', async () => {
    const redis = await startRedis({ tls: serverTls('server', 'no') });
    const api = await startApi({ redis, bootstrapKey: newBootstrapKey(), env: { WH_REDIS_TLS_CA_FILE: file('ca.crt') } });
    redis.tls = serverTls('foreign', 'no');
    await redis.restart();
    await waitUntil(async () => /unknown CA/.test((await api.api('GET', '/readyz')).json?.detail ?? ''),
      { timeoutMs: 15000, what: '/readyz naming the unknown CA' });
    const res = await api.api('GET', '/readyz');
    assert.equal(res.status, 503);
    assert.ok(api.proc.output.stderr.split('\n').some((l) => /redis connect failed/.test(l) && /unknown CA/.test(l)),
      'a log line names it');
    redis.tls = serverTls('server', 'no');
    await redis.restart();
    // Verified again: past the connection (no dispatcher made the group).
    await waitUntil(async () => !/not connected/.test((await api.api('GET', '/readyz')).json?.detail ?? 'not connected'),
      { timeoutMs: 15000, what: '/readyz past the connection once the right certificate is back' });
  });

  test('a reply in two TLS records that arrive together is read whole (what OpenSSL holds back is drained)', async () => {
    // A TLS server answering every command with +PONG written in two
    // records (+PO, then NG), behind a proxy that holds what the server
    // sends for 100 ms and passes it on in one write: both records reach
    // the client's socket at once, and its first read takes both. A
    // client that stopped at the first record's 3 bytes would wait on
    // the socket for the rest, which OpenSSL already holds, until its
    // start-up check gave up.
    const server = tls.createServer({ cert: fs.readFileSync(file('server.crt')), key: fs.readFileSync(file('server.key')) },
      (s) => s.on('data', () => { s.write('+PO'); setImmediate(() => s.write('NG\r\n')); }));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sockets = new Set();
    const proxy = net.createServer((client) => {
      const up = net.connect(server.address().port, '127.0.0.1');
      sockets.add(client).add(up);
      client.pipe(up);
      let held = [];
      up.on('data', (d) => {
        if (held.length === 0) setTimeout(() => { client.write(Buffer.concat(held)); held = []; }, 100);
        held.push(d);
      });
      const close = () => { client.destroy(); up.destroy(); };
      client.on('error', close).on('close', close);
      up.on('error', close).on('close', close);
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const r = await runToExit(BIN.dispatcher, {
        env: programEnv({ redis: { url: `rediss://localhost:${proxy.address().port}/0` }, apiPort: 1,
          bootstrapKey: newBootstrapKey(), env: { WH_REDIS_TLS_CA_FILE: file('ca.crt'), WH_HEARTBEAT_FILE: '/nonexistent/dir/hb' } }),
        timeoutMs: 15000,
      });
      // Past the Redis check (PING answered): it stops at the heartbeat file.
      assert.doesNotMatch(r.stderr, /cannot reach Redis/, r.stderr);
      assert.match(r.stderr, /WH_HEARTBEAT_FILE/, r.stderr);
    } finally {
      for (const s of sockets) s.destroy();
      proxy.close();
      server.close();
    }
  });

  test('WH_REDIS_TLS_SERVER_NAME: the name the certificate carries, when connecting by another', async () => {
    const redis = await startRedis({ tls: serverTls('elsewhere', 'no') });
    const r = await runToExit(BIN.dispatcher, {
      env: programEnv({ redis, apiPort: 1, bootstrapKey: newBootstrapKey(),
        env: { ...clientEnv(), WH_REDIS_TLS_SERVER_NAME: 'redis.elsewhere.example', WH_HEARTBEAT_FILE: '/nonexistent/dir/hb' } }),
      timeoutMs: 15000,
    });
    // Past the Redis check: it stops at the heartbeat file instead.
    assert.doesNotMatch(r.stderr, /cannot reach Redis/, r.stderr);
  });

  test('a plain redis:// URL to the TLS port does not pass for TLS', async () => {
    const redis = await startRedis({ tls: serverTls('server', 'no') });
    const r = await runToExit(BIN.api, {
      env: programEnv({ redis, apiPort: 1, bootstrapKey: newBootstrapKey(),
        env: { WH_REDIS_URL: `redis://127.0.0.1:${redis.tlsPort}/0` } }),
      timeoutMs: 15000,
    });
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /cannot reach Redis/);
  });

  test('WH_REDIS_TLS_INSECURE=1 connects to a certificate of another CA, and warns', async () => {
    const redis = await startRedis({ tls: serverTls('foreign', 'no') });
    const api = await startApi({ redis, bootstrapKey: newBootstrapKey(), env: { WH_REDIS_TLS_INSECURE: '1' } });
    const health = await api.api('GET', '/healthz');
    assert.equal(health.status, 200);
    const warn = api.proc.output.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
      .find((l) => /WH_REDIS_TLS_INSECURE/.test(l.msg));
    assert.ok(warn, api.proc.output.stderr);
    assert.equal(warn.level, 'warn');
    await waitUntil(async () => (await api.api('GET', '/readyz')).text.includes('consumer group') ||
      (await api.api('GET', '/readyz')).text.includes('events stream'), { what: '/readyz past the connection' });
  });
});
