// Events in (issue 4): POST /v1/events and /v1/events:batch, idempotent
// publishing by event_sid (also under 50 concurrent publishes across api
// workers), every validation rule with its field, direct publishing from
// redis-cli, ioredis and redis-py (the examples/publish programs
// docs/publishing.md shows), malformed direct entries dead-lettered while
// their neighbours are delivered, event-type filters, and the dispatchers' webhook cache
// following every change made through the api. Every delivery is verified
// both ways (Streem-Signature and the official standardwebhooks package).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  KEYS,
  PARTITIONS,
  REPO_ROOT,
  createWebhook,
  deadLetters,
  partitionOf,
  publishEvents,
  randomHex,
  redisCli,
  sleep,
  startReceiver,
  startStack,
  useHarness,
  waitQueuesIdle,
  waitUntil,
} from './lib/harness.js';
import { RFC3339_MS_Z, assertNamesField, assertProblem, checkSigned, companyKey } from './lib/checks.js';

useHarness();

const run = promisify(execFile);
const EXAMPLES = path.join(REPO_ROOT, 'examples', 'publish');
const sid = (tag) => `evt_${tag}_${randomHex(6)}`;

// The delivered requests of `rcv` for one event sid.
const deliveriesOf = (rcv, eventSid) => rcv.requests.filter((r) => r.headers['webhook-id'] === eventSid);

// Wait until every event sid in `sids` reached `rcv` and the queues are
// idle, then give a duplicate time to show up; each must arrive once.
async function expectOnce(stack, rcv, keys, sids, where) {
  await waitUntil(() => sids.every((s) => deliveriesOf(rcv, s).length >= 1), { timeoutMs: 15000, what: `${where}: ${sids.length} deliveries` });
  await waitQueuesIdle(stack.redis);
  await sleep(300);
  for (const s of sids) {
    const got = deliveriesOf(rcv, s);
    assert.equal(got.length, 1, `${where}: ${s} delivered exactly once (got ${got.length})`);
    checkSigned(got[0], keys, s, `${where} ${s}`);
  }
}

// The SHA-1 of every script in common/lua, as Redis names them.
function luaShas() {
  const dir = path.join(REPO_ROOT, 'common', 'lua');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.lua')).sort()
    .map((f) => crypto.createHash('sha1').update(fs.readFileSync(path.join(dir, f))).digest('hex'));
}

// The length of the stream the api publishes company's events to (its
// partition's; wh:{0}:events on one Redis).
async function streamLength(stack, company) {
  return Number(await redisCli(stack.redis, 'XLEN', KEYS.part(partitionOf(company), 'events')));
}

// A command of one node (SCRIPT, CONFIG, INFO) run on every master (the one
// Redis, or each master of a cluster): their answers, in that order.
async function onEveryMaster(stack, ...args) {
  return Promise.all((await stack.redis.masters()).map((m) => redisCli(m, ...args)));
}

// The calls of one command in INFO commandstats, summed over the masters.
function statCalls(infos, cmd) {
  return infos.reduce((n, info) => n + Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0), 0);
}

describe('events in', () => {
  let stack;
  let rcv;
  let hook;
  const CO = 'CO_events';

  before(async () => {
    stack = await startStack({ dispatchers: 1 });
    rcv = await startReceiver();
    hook = await createWebhook(stack, { company_sid: CO, label: 'all', url: rcv.url('/all') });
  });

  test('POST /v1/events: 202 with the event, delivered and signed', async () => {
    // Raw text: JSON.stringify would round the big number.
    const res = await stack.api('POST', '/v1/events', `{"company_sid":"${CO}","event_type":"call.ended","payload":{"call_sid":"CA_1","big":12345678901234567890}}`);
    assert.equal(res.status, 202, res.text);
    const ev = res.json.event;
    assert.match(ev.event_sid, /^evt_/);
    assert.equal(ev.company_sid, CO);
    assert.equal(ev.event_type, 'call.ended');
    assert.match(ev.created_at, RFC3339_MS_Z);
    assert.match(res.text, /"payload":\{"call_sid":"CA_1","big":12345678901234567890\}/, 'payload echoed exactly');
    await expectOnce(stack, rcv, hook.keys, [ev.event_sid], 'single');
    const body = JSON.parse(deliveriesOf(rcv, ev.event_sid)[0].text);
    assert.equal(body.event.created_at, ev.created_at, 'created_at as the api answered');
    assert.match(deliveriesOf(rcv, ev.event_sid)[0].text, /"big":12345678901234567890/, 'payload digits kept exactly');
  });

  test('a company key publishes for its own company only', async () => {
    const { auth: key } = await companyKey(stack.api, CO);
    let res = await stack.api('POST', '/v1/events', { event_type: 'call.ended', payload: 1 }, { key });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.event.company_sid, CO);
    res = await stack.api('POST', '/v1/events', { company_sid: 'CO_other', event_type: 'call.ended', payload: 1 }, { key });
    assertNamesField(assertProblem(res, [422]), 'company_sid');
  });

  test('\\u escapes in the event fields are understood', async () => {
    const body = '{"company_sid":"CO_\\u0065vents","event_type":"call\\u002eended","event_sid":"evt_\\u0041_' + randomHex(4) + '","payload":{"name":"caf\\u00e9"}}';
    const res = await stack.api('POST', '/v1/events', body);
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.event.company_sid, CO);
    assert.equal(res.json.event.event_type, 'call.ended');
    assert.match(res.json.event.event_sid, /^evt_A_/);
    assert.equal(res.json.event.payload.name, 'café');
    await expectOnce(stack, rcv, hook.keys, [res.json.event.event_sid], 'escapes');
  });

  test('POST /v1/events:batch: 202 per item, each delivered once', async () => {
    const given = sid('b');
    const events = Array.from({ length: 50 }, (_, i) => ({ company_sid: CO, event_type: 'call.ended', payload: { i } }));
    events[7].event_sid = given;
    const res = await stack.api('POST', '/v1/events:batch', { events });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.events.length, 50);
    assert.equal(res.json.accepted, 50);
    assert.equal(res.json.duplicates, 0);
    assert.equal(res.json.events[7].event_sid, given);
    const sids = res.json.events.map((e) => e.event_sid);
    assert.equal(new Set(sids).size, 50, 'distinct sids');
    for (const e of res.json.events) {
      assert.equal(e.status, 'accepted');
      assert.match(e.created_at, RFC3339_MS_Z);
    }
    await expectOnce(stack, rcv, hook.keys, sids, 'batch');
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(JSON.parse(deliveriesOf(rcv, sids[i])[0].text).event.payload, { i }, 'order of the items kept');
    }
  });

  test('idempotent event_sid: a repeat is 200 with the original and is not delivered again', async () => {
    const s = sid('idem');
    const first = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'call.ended', event_sid: s, payload: { n: 1 } });
    assert.equal(first.status, 202, first.text);
    await sleep(20);
    const again = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'call.ended', event_sid: s, payload: { n: 1 } });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json.event, first.json.event, 'the original event, created_at included');
    const other = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'call.ended', event_sid: s, payload: { n: 2 } });
    assertNamesField(assertProblem(other, [409]), 'event_sid');
    const otherType = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'call.started', event_sid: s, payload: { n: 1 } });
    assertNamesField(assertProblem(otherType, [409]), 'event_sid');
    // The same event_sid in another company is another event.
    const co2 = await stack.api('POST', '/v1/events', { company_sid: 'CO_events_2', event_type: 'call.ended', event_sid: s, payload: { n: 1 } });
    assert.equal(co2.status, 202, co2.text);
    await expectOnce(stack, rcv, hook.keys, [s], 'idempotent');
    const ttl = Number(await redisCli(stack.redis, 'TTL', KEYS.idem(CO, s)));
    assert.ok(ttl > 86000 && ttl <= 86400, `remembered for 24 h (TTL ${ttl})`);
  });

  test('50 concurrent publishes of one event_sid across api workers: one delivery', async () => {
    const s = sid('race');
    const body = { company_sid: CO, event_type: 'call.ended', event_sid: s, payload: { race: true } };
    // Separate connections, so Kore spreads them over its workers.
    const results = await Promise.all(Array.from({ length: 50 }, () => fetch(`${stack.apiServer.baseUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(stack.bootstrapKey).toString('base64')}`, 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: await r.json() }))));
    const statuses = results.map((r) => r.status).sort();
    assert.equal(statuses.filter((x) => x === 202).length, 1, `one 202: ${statuses}`);
    assert.equal(statuses.filter((x) => x === 200).length, 49, `49 repeats: ${statuses}`);
    const created = new Set(results.map((r) => r.json.event.created_at));
    assert.equal(created.size, 1, 'every answer names the same original');
    await expectOnce(stack, rcv, hook.keys, [s], 'race');
  });

  test('a batch with repeats: inside the batch and of an earlier event', async () => {
    const s1 = sid('bd1');
    const s2 = sid('bd2');
    let res = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'call.ended', event_sid: s1, payload: 1 });
    assert.equal(res.status, 202);
    res = await stack.api('POST', '/v1/events:batch', {
      events: [
        { company_sid: CO, event_type: 'call.ended', event_sid: s1, payload: 1 },
        { company_sid: CO, event_type: 'call.ended', event_sid: s2, payload: 2 },
        { company_sid: CO, event_type: 'call.ended', event_sid: s2, payload: 2 },
        { company_sid: CO, event_type: 'call.ended', event_sid: s2, payload: 3 },
      ],
    });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(res.json.events.map((e) => e.status), ['duplicate', 'accepted', 'duplicate', 'conflict']);
    assert.equal(res.json.accepted, 1);
    assert.equal(res.json.duplicates, 2);
    assert.equal(res.json.conflicts, 1);
    await expectOnce(stack, rcv, hook.keys, [s1, s2], 'batch repeats');
  });

  test('the script is found again after Redis forgets it (SCRIPT FLUSH)', async () => {
    await onEveryMaster(stack, 'SCRIPT', 'FLUSH');
    const s = sid('flush');
    const res = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'call.ended', event_sid: s, payload: 1 });
    assert.equal(res.status, 202, res.text);
    await onEveryMaster(stack, 'SCRIPT', 'FLUSH');
    const b = await stack.api('POST', '/v1/events:batch', { events: [{ company_sid: CO, event_type: 'call.ended', event_sid: sid('flushb'), payload: 1 }, { company_sid: CO, event_type: 'call.ended', payload: 2 }] });
    assert.equal(b.status, 202, b.text);
    await expectOnce(stack, rcv, hook.keys, [s, ...b.json.events.map((e) => e.event_sid)], 'after SCRIPT FLUSH');
  });

  test('scripts travel by SHA-1: loaded as each connection comes up, never sent whole', async () => {
    // Every script of common/lua is in Redis' cache, even those no program
    // calls yet (order_*, ratelimit): the connections load them all.
    const shas = luaShas();
    for (const exists of await onEveryMaster(stack, 'SCRIPT', 'EXISTS', ...shas)) {
      assert.deepEqual(exists.split('\n'), shas.map(() => '1'), 'every script loaded');
    }
    // While the dispatcher moves retries (every 100 ms), publishes its
    // metrics, and the api runs its scripts, EVAL never travels.
    await onEveryMaster(stack, 'CONFIG', 'RESETSTAT');
    const made = await createWebhook(stack, { company_sid: `${CO}_sha`, label: 'sha', url: rcv.url('/sha') });
    const del = await stack.api('DELETE', `/v1/webhooks/${made.webhook.sid}`);
    assert.equal(del.status, 204, del.text);
    const res = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: 'call.ended', event_sid: sid('sha'), payload: 1 });
    assert.equal(res.status, 202, res.text);
    await sleep(400);
    const stats = await onEveryMaster(stack, 'INFO', 'commandstats');
    for (const st of stats) assert.doesNotMatch(st, /cmdstat_eval:/, 'no EVAL with a script\'s text');
    const calls = statCalls(stats, 'evalsha');
    assert.ok(calls >= 3, `the scripts ran by EVALSHA (${calls} calls)`);
  });

  test('after SCRIPT FLUSH the connections load the scripts again', async () => {
    const shas = luaShas();
    await onEveryMaster(stack, 'SCRIPT', 'FLUSH');
    // The first call that meets NOSCRIPT may fail (503, retryable); the
    // scripts are then loaded again and the api's writes work.
    let res = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: `${CO}_flush`, label: 'f', url: rcv.url('/f') } });
    if (res.status === 503) {
      await sleep(200);
      res = await stack.api('POST', '/v1/webhooks', { webhook: { company_sid: `${CO}_flush`, label: 'f', url: rcv.url('/f') } });
    }
    assert.equal(res.status, 201, res.text);
    await waitUntil(async () => (await onEveryMaster(stack, 'SCRIPT', 'EXISTS', ...shas)).every((e) => e.split('\n').every((x) => x === '1')), { timeoutMs: 5000, what: 'every script loaded again' });
    const del = await stack.api('DELETE', `/v1/webhooks/${res.json.webhook.sid}`);
    assert.equal(del.status, 204, del.text);
  });

  test('bad inputs: each rule answers with its field named, nothing is enqueued', async () => {
    const before = await streamLength(stack, CO);
    const ok = { company_sid: CO, event_type: 'call.ended', payload: {} };
    const cases = [
      [{ ...ok, company_sid: undefined }, 'company_sid'],
      [{ ...ok, company_sid: 'no spaces allowed' }, 'company_sid'],
      [{ ...ok, event_type: undefined }, 'event_type'],
      [{ ...ok, event_type: 'Call Ended' }, 'event_type'],
      [{ ...ok, event_type: 'call..ended' }, 'event_type'],
      [{ ...ok, event_type: 42 }, 'event_type'],
      [{ ...ok, event_type: 'x'.repeat(200) }, 'event_type'],
      [{ ...ok, payload: undefined }, 'payload'],
      [{ ...ok, event_sid: 'has space' }, 'event_sid'],
      [{ ...ok, event_sid: '' }, 'event_sid'],
      [{ ...ok, event_sid: 'e'.repeat(64) }, 'event_sid'],
    ];
    for (const [body, field] of cases) {
      const res = await stack.api('POST', '/v1/events', body);
      assertNamesField(assertProblem(res, [422]), field);
    }
    assertProblem(await stack.api('POST', '/v1/events', '{"company_sid":'), [400]);
    assertProblem(await stack.api('POST', '/v1/events', '[1,2]'), [400]);
    const big = { ...ok, payload: 'x'.repeat(300 * 1024) };
    assertProblem(await stack.api('POST', '/v1/events', big), [413]);

    const batch = (events) => stack.api('POST', '/v1/events:batch', events === undefined ? {} : { events });
    assertNamesField(assertProblem(await batch(undefined), [422]), 'events');
    assertNamesField(assertProblem(await batch([]), [422]), 'events');
    assertNamesField(assertProblem(await batch({}), [422]), 'events');
    assertNamesField(assertProblem(await batch(Array.from({ length: 1001 }, () => ok)), [422]), 'events');
    assertNamesField(assertProblem(await batch([ok, ok, ok, 'x']), [422]), 'events[3]');
    assertNamesField(assertProblem(await batch([ok, { ...ok, event_type: 'BAD' }]), [422]), 'events[1].event_type');
    assertNamesField(assertProblem(await batch([ok, { ...ok, payload: 'x'.repeat(300 * 1024) }]), [422]), 'events[1]');
    const many = assertProblem(await batch([{ ...ok, payload: undefined }, ok, { ...ok, event_sid: 'a b' }]), [422]);
    assert.deepEqual(many.errors.map((e) => e.field).sort(), ['events[0].payload', 'events[2].event_sid']);
    assert.equal(await streamLength(stack, CO), before, 'no entry added by any bad request');
  });

  test('a batch of 1000 events in one request', async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({ company_sid: CO, event_type: 'call.ended', event_sid: sid(`k${i}`), payload: { i, pad: 'p'.repeat(900) } }));
    const res = await stack.api('POST', '/v1/events:batch', { events });
    assert.equal(res.status, 202, res.text.slice(0, 500));
    assert.equal(res.json.accepted, 1000);
    await expectOnce(stack, rcv, hook.keys, events.map((e) => e.event_sid), 'batch of 1000');
  });
});

describe('publishing straight into Redis', () => {
  let stack;
  let rcv;
  let hook;
  const CO = 'CO_direct';

  before(async () => {
    stack = await startStack({ dispatchers: 1 });
    rcv = await startReceiver();
    hook = await createWebhook(stack, { company_sid: CO, label: 'direct', url: rcv.url('/direct') });
  });

  // Where the examples publish: the one Redis, or the cluster (its seeds
  // and the stack's partitions, as the programs get them).
  const env = () => (stack.redis.env
    ? { ...process.env, ...stack.redis.env(), WH_PARTITIONS: String(PARTITIONS) }
    : { ...process.env, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(stack.redis.port), REDIS_URL: `redis://127.0.0.1:${stack.redis.port}` });

  // The entry ids the dispatcher derives event sids from are not known to a
  // plain XADD publisher: find a delivery by a payload marker.
  const byMarker = (m) => rcv.requests.filter((r) => r.text.includes(m));

  async function expectMarkersOnce(markers, where) {
    await waitUntil(() => markers.every((m) => byMarker(m).length >= 1), { timeoutMs: 15000, what: `${where}: deliveries` });
    await waitQueuesIdle(stack.redis);
    await sleep(300);
    for (const m of markers) {
      const got = byMarker(m);
      assert.equal(got.length, 1, `${where}: ${m} delivered once`);
      checkSigned(got[0], hook.keys, got[0].headers['webhook-id'], `${where} ${m}`);
    }
  }

  test('redis-cli: plain XADD and the idempotent script (examples/publish/publish.sh)', async () => {
    const m1 = `cli_${randomHex(4)}`;
    const { stdout } = await run(path.join(EXAMPLES, 'publish.sh'), [CO, 'call.ended', `{"m":"${m1}"}`], { env: env() });
    assert.match(stdout.trim(), /^\d+-\d+$/, 'XADD answers the entry id');
    const s = sid('cli');
    const m2 = `cli_${randomHex(4)}`;
    const a = await run(path.join(EXAMPLES, 'publish.sh'), [CO, 'call.ended', `{"m":"${m2}"}`, s], { env: env() });
    assert.match(a.stdout, /^1\n\d+-\d+\n\d+\n$/, `added: ${a.stdout}`);
    const b = await run(path.join(EXAMPLES, 'publish.sh'), [CO, 'call.ended', `{"m":"${m2}"}`, s], { env: env() });
    assert.match(b.stdout, /^0\n\d+\ncall\.ended\n1\n$/, `repeat: ${b.stdout}`);
    await expectMarkersOnce([m1, m2], 'redis-cli');
    assert.equal(byMarker(m2)[0].headers['webhook-id'], s);
    assert.match(byMarker(m1)[0].headers['webhook-id'], /^evt_/, 'derived sid');
  });

  test('ioredis (examples/publish/publish.mjs), run twice with one event_sid', async () => {
    // The example imports ioredis: run a copy from where tests/e2e's
    // node_modules resolve, telling it where the script file is.
    const copy = path.join(REPO_ROOT, 'tests', 'e2e', `.publish-${randomHex(4)}.mjs`);
    fs.copyFileSync(path.join(EXAMPLES, 'publish.mjs'), copy);
    try {
      const e = { ...env(), PUBLISH_EVENT_LUA: path.join(REPO_ROOT, 'common', 'lua', 'publish_event.lua') };
      const m1 = `io_${randomHex(4)}`;
      const m2 = `io_${randomHex(4)}`;
      const s = sid('io');
      const x = await run('node', [copy, CO, 'call.ended', `{"m":"${m1}"}`], { env: e });
      assert.match(x.stdout.trim(), /^\d+-\d+$/);
      const a = await run('node', [copy, CO, 'call.ended', `{"m":"${m2}"}`, s], { env: e });
      assert.match(a.stdout, /^added /);
      const b = await run('node', [copy, CO, 'call.ended', `{"m":"${m2}"}`, s], { env: e });
      assert.match(b.stdout, /^repeat /);
      await expectMarkersOnce([m1, m2], 'ioredis');
    } finally {
      fs.rmSync(copy, { force: true });
    }
  });

  test('redis-py (examples/publish/publish.py), run twice with one event_sid', async (t) => {
    const py = '/usr/bin/python3';
    try {
      await run(py, ['-c', 'import redis']);
    } catch {
      t.skip('python3-redis is not installed (make deps installs it)');
      return;
    }
    const m1 = `py_${randomHex(4)}`;
    const m2 = `py_${randomHex(4)}`;
    const s = sid('py');
    const script = path.join(EXAMPLES, 'publish.py');
    const x = await run(py, [script, CO, 'call.ended', `{"m":"${m1}"}`], { env: env() });
    assert.match(x.stdout.trim(), /^\d+-\d+$/);
    const a = await run(py, [script, CO, 'call.ended', `{"m":"${m2}"}`, s], { env: env() });
    assert.match(a.stdout, /^added /);
    const b = await run(py, [script, CO, 'call.ended', `{"m":"${m2}"}`, s], { env: env() });
    assert.match(b.stdout, /^repeat /);
    await expectMarkersOnce([m1, m2], 'redis-py');
  });

  test('malformed entries are dead-lettered with their reason; the good ones around them are delivered', async () => {
    const tag = randomHex(4);
    const good = (i) => ({ company_sid: CO, event_type: 'call.ended', payload: `{"m":"good_${tag}_${i}"}`, event_sid: sid(`g${i}`) });
    await publishEvents(stack.redis, [good(0)]);
    const bad6 = sid('bad6');
    const bad = [
      [['company_sid', CO, 'payload', '{}', 'event_sid', sid('bad1')], /event_type/],
      [['company_sid', CO, 'event_type', 'call.ended', 'payload', '{not json', 'event_sid', sid('bad2')], /payload is not JSON/],
      [['event_type', 'call.ended', 'payload', '{}', 'event_sid', sid('bad3')], /company_sid/],
      [['company_sid', CO, 'event_type', 'call.ended', 'event_sid', sid('bad4')], /payload is missing/],
      [['company_sid', CO, 'event_type', 'call.ended', 'payload', '{}', 'event_sid', 'bad sid'], /event_sid/],
      // Fields named like the dead letter's own are kept under original.<name>.
      [['company_sid', CO, 'payload', '{}', 'event_sid', bad6, 'reason', 'mine', 'source_id', 'x'], /event_type/],
    ];
    for (const [fields] of bad) await redisCli(stack.redis, 'XADD', KEYS.events, '*', ...fields);
    await publishEvents(stack.redis, [good(1), good(2)]);
    await expectMarkersOnce([0, 1, 2].map((i) => `good_${tag}_${i}`), 'neighbours');
    const dead = await deadLetters(stack.redis);
    for (const [fields, reason] of bad) {
      const sidField = fields[fields.indexOf('event_sid') + 1];
      const d = dead.find((x) => x.fields.event_sid === sidField);
      assert.ok(d, `dead letter for ${sidField}`);
      assert.match(d.fields.reason, reason);
      assert.equal(d.fields.source_stream, KEYS.events);
      assert.match(d.fields.source_id, /^\d+-\d+$/);
    }
    const renamed = dead.find((x) => x.fields.event_sid === bad6);
    assert.equal(renamed.fields['original.reason'], 'mine');
    assert.equal(renamed.fields['original.source_id'], 'x');
    assert.equal(await redisCli(stack.redis, 'XLEN', KEYS.events), '0', 'acked and deleted');
  });

  test('a 10 MB malformed entry: its dead letter keeps 16 KiB of each value, the sizes and 32 fields', async () => {
    const big = sid('big');
    const payload = `{${'x'.repeat(10 * 1024 * 1024)}`;
    const extra = [];
    for (let i = 0; i < 40; i++) extra.push(`f${String(i).padStart(2, '0')}`, `v${i}`);
    const id = await stack.redis.call('XADD', KEYS.events, '*', 'company_sid', CO, 'event_type', 'call.ended',
      'event_sid', big, 'payload', payload, ...extra);
    await waitUntil(async () => (await deadLetters(stack.redis)).some((x) => x.fields.source_id === String(id)), {
      timeoutMs: 15000,
      what: 'the big entry in the dead letters',
    });
    const d = (await deadLetters(stack.redis)).find((x) => x.fields.source_id === String(id));
    assert.match(d.fields.reason, /larger than WH_EVENT_MAX_BYTES/);
    assert.equal(d.fields.event_sid, big);
    assert.equal(d.fields.payload.length, 16384, 'the payload is cut to 16 KiB');
    assert.equal(d.fields.payload, payload.slice(0, 16384), 'its first 16 KiB as they were');
    assert.equal(d.fields['payload.size'], String(payload.length), 'and its size is kept');
    assert.equal(d.fields.f27, 'v27', 'the first 32 fields are kept');
    assert.equal(d.fields.f28, undefined, 'and no more');
    const bytes = (await stack.redis.call('MEMORY', 'USAGE', KEYS.dead)) || 0;
    assert.ok(bytes < 1024 * 1024, `the dead letters stay small (${bytes} bytes)`);
    assert.equal(await redisCli(stack.redis, 'XLEN', KEYS.events), '0', 'acked and deleted');
  });
});

describe('event-type filters and the webhook cache following api changes', () => {
  let stack;
  let rcv;
  const CO = 'CO_filters';

  before(async () => {
    stack = await startStack({ dispatchers: 2 });
    rcv = await startReceiver();
  });

  const publish = async (eventType, extra = {}) => {
    const res = await stack.api('POST', '/v1/events', { company_sid: CO, event_type: eventType, payload: { t: eventType }, ...extra });
    assert.equal(res.status, 202, res.text);
    return res.json.event.event_sid;
  };
  const pathsOf = (s) => rcv.requests.filter((r) => r.headers['webhook-id'] === s).map((r) => r.url).sort();

  test('exact names and prefix.* wildcards', async () => {
    const hooks = {};
    for (const [name, types] of [['all', undefined], ['star', ['*']], ['call', ['call.*']], ['ended', ['call.ended']], ['sms', ['sms.*', 'fax.sent']]]) {
      hooks[name] = await createWebhook(stack, { company_sid: CO, label: name, url: rcv.url(`/${name}`), ...(types ? { event_types: types } : {}) });
    }
    const want = {
      'call.ended': ['/all', '/call', '/ended', '/star'],
      'call.started': ['/all', '/call', '/star'],
      'call.leg.bridged': ['/all', '/call', '/star'],
      call: ['/all', '/star'],
      'sms.sent': ['/all', '/sms', '/star'],
      'fax.sent': ['/all', '/sms', '/star'],
      'fax.received': ['/all', '/star'],
      'callx.y': ['/all', '/star'],
    };
    const sids = {};
    for (const t of Object.keys(want)) sids[t] = await publish(t);
    const total = Object.values(want).reduce((n, v) => n + v.length, 0);
    await waitUntil(() => rcv.requests.length >= total, { timeoutMs: 15000, what: `${total} deliveries` });
    await waitQueuesIdle(stack.redis);
    await sleep(300);
    for (const [t, paths] of Object.entries(want)) assert.deepEqual(pathsOf(sids[t]), paths, `${t} reached`);
    const byPath = Object.fromEntries(Object.entries(hooks).map(([n, h]) => [`/${n}`, h.keys]));
    for (const r of rcv.requests) checkSigned(r, byPath[r.url], r.headers['webhook-id'], `filter ${r.url}`);
    for (const h of Object.values(hooks)) {
      const del = await stack.api('DELETE', `/v1/webhooks/${h.webhook.sid}`);
      assert.equal(del.status, 204);
    }
    rcv.reset();
  });

  test('the next event follows each change at once: url, filter, disable, keys, delete', async () => {
    const { webhook, keys } = await createWebhook(stack, { company_sid: CO, label: 'moving', url: rcv.url('/one') });
    // Warm both dispatchers' caches.
    for (let i = 0; i < 6; i++) await publish('call.ended');
    await waitUntil(() => rcv.requests.length >= 6, { what: 'warm-up deliveries' });
    await waitQueuesIdle(stack.redis);
    rcv.reset();

    let res = await stack.api('PATCH', `/v1/webhooks/${webhook.sid}`, { webhook: { url: rcv.url('/two') } });
    assert.equal(res.status, 200, res.text);
    let s = await publish('call.ended');
    await waitUntil(() => pathsOf(s).length >= 1, { what: 'delivery after the url change' });
    assert.deepEqual(pathsOf(s), ['/two'], 'the new url, never the old one');

    res = await stack.api('PATCH', `/v1/webhooks/${webhook.sid}`, { webhook: { event_types: ['sms.*'] } });
    assert.equal(res.status, 200, res.text);
    const skipped = await publish('call.ended');
    s = await publish('sms.sent');
    await waitUntil(() => pathsOf(s).length >= 1, { what: 'delivery after the filter change' });
    await waitQueuesIdle(stack.redis);
    assert.deepEqual(pathsOf(skipped), [], 'filtered out at once');

    const added = await stack.api('POST', `/v1/webhooks/${webhook.sid}/signing-keys`, { signing_key: { label: 'new' } });
    assert.equal(added.status, 201, added.text);
    const all = await stack.api('GET', `/v1/webhooks/${webhook.sid}/signing-keys`);
    s = await publish('sms.sent');
    await waitUntil(() => pathsOf(s).length >= 1, { what: 'delivery after the key was added' });
    const req = rcv.requests.find((r) => r.headers['webhook-id'] === s);
    checkSigned(req, all.json.signing_keys, s, 'signed by the new key too');
    assert.equal(all.json.signing_keys.length, 2);
    assert.equal(req.headers['webhook-signature'].split(' ').length, 2, 'two signatures');
    checkSigned(req, keys, s, 'and by the old one');

    res = await stack.api('PATCH', `/v1/webhooks/${webhook.sid}`, { webhook: { enabled: false } });
    assert.equal(res.status, 200, res.text);
    const parked = await publish('sms.sent');
    await waitQueuesIdle(stack.redis);
    await sleep(300);
    assert.deepEqual(pathsOf(parked), [], 'a disabled webhook gets nothing');

    res = await stack.api('PATCH', `/v1/webhooks/${webhook.sid}`, { webhook: { enabled: true } });
    assert.equal(res.status, 200, res.text);
    s = await publish('sms.sent');
    await waitUntil(() => pathsOf(s).length >= 1, { what: 'delivery after re-enabling' });

    res = await stack.api('DELETE', `/v1/webhooks/${webhook.sid}`);
    assert.equal(res.status, 204);
    const gone = await publish('sms.sent');
    await waitQueuesIdle(stack.redis);
    await sleep(300);
    assert.deepEqual(pathsOf(gone), [], 'a deleted webhook gets nothing');
  });

  test('steady state: fan-out reads no webhook from Redis per event', async () => {
    await createWebhook(stack, { company_sid: CO, label: 'steady', url: rcv.url('/steady') });
    const warm = Array.from({ length: 20 }, () => ({ company_sid: CO, event_type: 'call.ended', payload: '{}' }));
    await publishEvents(stack.redis, warm);
    await waitUntil(() => rcv.requests.filter((r) => r.url === '/steady').length >= 20, { what: 'warm-up' });
    await waitQueuesIdle(stack.redis);
    const stat = async () => {
      const infos = await onEveryMaster(stack, 'INFO', 'commandstats');
      return { zrange: statCalls(infos, 'zrange'), hvals: statCalls(infos, 'hvals') };
    };
    const before = await stat();
    const N = 2000;
    await publishEvents(stack.redis, Array.from({ length: N }, (_, i) => ({ company_sid: CO, event_type: 'call.ended', payload: `{"i":${i}}` })));
    await waitUntil(() => rcv.requests.filter((r) => r.url === '/steady').length >= 20 + N, { timeoutMs: 30000, what: `${N} deliveries` });
    const after = await stat();
    // Only the periodic re-check (every 30 s) may read the index again.
    assert.ok(after.zrange - before.zrange <= 4, `ZRANGE calls for ${N} events: ${after.zrange - before.zrange}`);
    assert.ok(after.hvals - before.hvals <= 4, `HVALS calls for ${N} events: ${after.hvals - before.hvals}`);
  });
});
