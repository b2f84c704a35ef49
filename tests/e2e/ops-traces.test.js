// Traces (issue 22): a W3C traceparent given to POST /v1/events, or set
// as a stream entry's traceparent field by a direct publisher, travels
// with the event through the stream and the retry set, and each delivery
// attempt is exported as an OTLP/HTTP (JSON) client span, child of the
// publisher's span. An OTLP receiver here decodes what it gets and
// checks the tree and the attributes; with the collector down deliveries
// go on at once and the drop counter rises; WH_TRACE_SAMPLE=0 sends
// nothing.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  BIN,
  createWebhook,
  freePort,
  programEnv,
  publishEvents,
  randomHex,
  runToExit,
  sleep,
  startDispatcher,
  startReceiver,
  startStack,
  useHarness,
  waitUntil,
} from './lib/harness.js';
import net from 'node:net';
import { parse, sum, value } from './lib/promtext.js';

useHarness();

// An OTLP/HTTP collector: every POST /v1/traces body, decoded.
async function startCollector() {
  const port = await freePort();
  const got = { requests: [], spans: [] };
  const server = http.createServer({ keepAliveTimeout: 500 }, (req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const doc = JSON.parse(body);
      got.requests.push({ url: req.url, headers: req.headers, doc });
      for (const rs of doc.resourceSpans) {
        const resource = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue]));
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const attrs = Object.fromEntries(s.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]));
            got.spans.push({ ...s, attrs, resource });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, url: `http://127.0.0.1:${port}`, got, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const hex = (n) => randomHex(n);
const traceparent = (trace, span, flags = '01') => `00-${trace}-${span}-${flags}`;

async function apiMetrics(stack) {
  const res = await fetch(`http://127.0.0.1:${stack.apiServer.port}/metrics`);
  assert.equal(res.status, 200);
  return parse(await res.text());
}

// A collector that accepts connections and never answers.
async function startHungCollector() {
  const port = await freePort();
  const sockets = new Set();
  const server = net.createServer((c) => { sockets.add(c); c.on('error', () => {}); });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { for (const c of sockets) c.destroy(); server.close(r); }) };
}

async function dispatcherMetrics(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return parse(await res.text());
}

describe('attempt spans of a traced event', () => {
  let stack;
  let collector;
  let receiver;
  let dispatcher;
  const seen = new Map();

  after(() => collector?.close());

  before(async () => {
    collector = await startCollector();
    stack = await startStack({
      dispatchers: 0,
      apiEnv: { WH_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'api-test', WH_API_WORKERS: '2' },
    });
    dispatcher = await startDispatcher({
      redis: stack.redis, bootstrapKey: stack.bootstrapKey, apiPort: stack.apiServer.port,
      env: {
        WH_OTLP_ENDPOINT: `${collector.url}/`,
        WH_OTLP_HEADERS: 'x-api-key=k%20one,x-tenant=t1',
        OTEL_SERVICE_NAME: 'dispatch-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=e2e',
      },
    });
    // Each path fails its first request, then succeeds.
    receiver = await startReceiver({
      respond: (r) => {
        const n = (seen.get(r.url) ?? 0) + 1;
        seen.set(r.url, n);
        return { status: n === 1 ? 500 : 204 };
      },
    });
  });

  test('POST /v1/events with traceparent: publisher span -> api server span -> a failed attempt and its retry', async () => {
    const hook = (await createWebhook(stack, {
      company_sid: `CO_tr${hex(3)}`, url: receiver.url(`/a${hex(4)}`), max_attempts: 3,
    })).webhook;
    const trace = hex(16);
    const parent = hex(8);
    const res = await stack.api('POST', '/v1/events',
      { company_sid: hook.company_sid, event_type: 'call.ended', payload: { n: 1 } },
      { headers: { traceparent: traceparent(trace, parent) } });
    assert.equal(res.status, 202, res.text);

    let spans;
    await waitUntil(() => (spans = collector.got.spans.filter((s) => s.traceId === trace)).length >= 3,
      { timeoutMs: 15000, intervalMs: 100, what: 'the api span and two attempt spans at the collector' });
    await sleep(1500);
    spans = collector.got.spans.filter((s) => s.traceId === trace);
    assert.equal(spans.length, 3, JSON.stringify(spans));
    const server = spans.find((s) => s.kind === 2);
    const eventSid = spans.find((s) => s.kind === 3).attrs['webhooks.event_sid'];
    assert.match(eventSid, /^evt_/);
    assert.ok(server, 'an api server span');
    assert.equal(server.parentSpanId, parent, 'the api span is a child of the publisher span');
    assert.match(server.spanId, /^[0-9a-f]{16}$/);
    assert.equal(server.name, '/v1/events');
    assert.equal(server.attrs['http.request.method'], 'POST');
    assert.equal(server.attrs['http.route'], '/v1/events');
    assert.equal(server.attrs['http.response.status_code'], 202);
    assert.equal(server.attrs['webhooks.event_sid'], eventSid);
    assert.match(server.attrs['webhooks.request_id'], /^req_/);
    assert.equal(server.status.code, 1);
    assert.equal(server.resource['service.name'], 'api-test');
    assert.ok(BigInt(server.endTimeUnixNano) >= BigInt(server.startTimeUnixNano));
    const attempts = spans.filter((s) => s.kind !== 2).sort((a, b) => a.attrs['webhooks.attempt'] - b.attrs['webhooks.attempt']);
    const [failed, retry] = attempts;
    for (const s of attempts) {
      assert.equal(s.parentSpanId, server.spanId, 'an attempt is a child of the api span');
      assert.match(s.spanId, /^[0-9a-f]{16}$/);
      assert.equal(s.kind, 3, 'a client span');
      assert.equal(s.attrs['webhooks.webhook_sid'], hook.sid);
      assert.equal(s.attrs['webhooks.event_sid'], eventSid);
      assert.ok(s.attrs['http.request.body.size'] > 0);
      assert.ok(s.attrs['webhooks.queue_wait_ms'] >= 0);
      assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
      assert.ok(BigInt(s.startTimeUnixNano) >= BigInt(server.startTimeUnixNano), 'an attempt starts after the api span');
      assert.equal(s.resource['service.name'], 'dispatch-test');
      assert.equal(s.resource['deployment.environment'], 'e2e');
    }

    // The log lines of the request and of the attempts carry the trace;
    // their numbers are JSON numbers.
    const lines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const req = lines(stack.apiServer.proc.output.stderr).find((l) => l.msg === 'request' && l.trace_id === trace);
    assert.ok(req, 'the request line carries trace_id');
    assert.equal(req.span_id, server.spanId);
    assert.equal(req.status, 202);
    assert.equal(typeof req.duration_ms, 'number');
    const retried = lines(dispatcher.proc.output.stderr).find((l) => l.msg.startsWith('delivery failed; retry scheduled') && l.trace_id === trace);
    assert.ok(retried, 'the failed attempt\'s line carries trace_id');
    assert.equal(retried.span_id, failed.spanId);
    assert.equal(retried.attempt, 1);
    assert.equal(retried.status, 500);
    assert.equal(typeof retried.retry_in_ms, 'number');
    assert.equal(typeof retried.duration_ms, 'number');
    assert.notEqual(failed.spanId, retry.spanId);
    assert.equal(failed.attrs['webhooks.attempt'], 1);
    assert.equal(failed.attrs['http.response.status_code'], 500);
    assert.equal(failed.attrs['error.type'], 'http_5xx');
    assert.equal(failed.status.code, 2);
    assert.equal(retry.attrs['webhooks.attempt'], 2);
    assert.equal(retry.attrs['http.response.status_code'], 204);
    assert.equal(retry.attrs['error.type'], undefined);
    assert.equal(retry.status.code, 1);
    const exp = collector.got.requests.find((r) => r.doc.resourceSpans[0].scopeSpans[0].spans.some((s) => s.traceId === trace && s.kind === 3));
    assert.equal(exp.url, '/v1/traces');
    assert.match(exp.headers['content-type'], /^application\/json/);
    assert.equal(exp.headers['x-api-key'], 'k one');
    assert.equal(exp.headers['x-tenant'], 't1');
  });

  test('propagate_trace: the receiver gets a traceparent naming the attempt span, in place of a configured one', async () => {
    const rcv = await startReceiver();
    const company = `CO_tp${hex(3)}`;
    const on = (await createWebhook(stack, {
      company_sid: company, url: rcv.url('/on'), propagate_trace: true,
      headers: [{ name: 'traceparent', value: 'configured', include_in_request_signature: true }],
    })).webhook;
    assert.equal(on.propagate_trace, true);
    const off = (await createWebhook(stack, { company_sid: company, url: rcv.url('/off') })).webhook;
    assert.equal(off.propagate_trace, false);
    const trace = hex(16);
    const res = await stack.api('POST', '/v1/events', { company_sid: company, event_type: 'a.b', payload: {} },
      { headers: { traceparent: traceparent(trace, hex(8)) } });
    assert.equal(res.status, 202, res.text);
    await rcv.waitFor(2, 10000);
    const got = rcv.requests.find((r) => r.url === '/on');
    const tps = got.rawHeaders.filter((_, i) => i % 2 === 0 && got.rawHeaders[i].toLowerCase() === 'traceparent');
    assert.equal(tps.length, 1, `one traceparent: ${JSON.stringify(got.rawHeaders)}`);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(got.headers.traceparent);
    assert.ok(m, got.headers.traceparent);
    assert.equal(m[1], trace, 'the event\'s trace id');
    // The configured header left the signed list with it.
    assert.equal(got.headers['streem-signature-headers'], 'Streem-Sent-At');
    assert.equal(rcv.requests.find((r) => r.url === '/off').headers.traceparent, undefined);
    let attempt;
    await waitUntil(() => (attempt = collector.got.spans.find((s) => s.traceId === trace && s.kind === 3)),
      { timeoutMs: 10000, intervalMs: 100, what: 'the attempt span' });
    await sleep(1200);
    const mine = collector.got.spans.filter((s) => s.traceId === trace && s.kind === 3 && s.attrs['webhooks.webhook_sid'] === on.sid);
    assert.equal(mine.length, 1);
    assert.equal(m[2], mine[0].spanId, 'the parent id sent is the attempt span\'s id');
    // Switched off by PATCH.
    const patched = await stack.api('PATCH', `/v1/webhooks/${on.sid}`, { propagate_trace: false });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.webhook.propagate_trace, false);
    const bad = await stack.api('PATCH', `/v1/webhooks/${on.sid}`, { propagate_trace: 'yes' });
    assert.equal(bad.status, 422, bad.text);
  });

  test('a direct publisher\'s traceparent field; an invalid or unsampled one gives no span', async () => {
    const hook = (await createWebhook(stack, {
      company_sid: `CO_tf${hex(3)}`, url: receiver.url(`/b${hex(4)}`), max_attempts: 1,
    })).webhook;
    const trace = hex(16);
    const parent = hex(8);
    const bad = hex(16);
    const unsampled = hex(16);
    const ev = (tp) => ({ company_sid: hook.company_sid, event_type: 'a.b', payload: '{}', traceparent: tp });
    await publishEvents(stack.redis, [
      ev(traceparent(trace, parent)),
      ev(`00-${bad.toUpperCase()}-${parent}-01`),
      ev(traceparent(unsampled, parent, '00')),
    ]);
    await waitUntil(() => collector.got.spans.some((s) => s.traceId === trace),
      { timeoutMs: 15000, intervalMs: 100, what: 'the span of the direct publisher' });
    await receiver.waitFor(3, 10000);
    await sleep(1500);
    const s = collector.got.spans.find((x) => x.traceId === trace);
    assert.equal(s.parentSpanId, parent);
    assert.equal(collector.got.spans.filter((x) => x.traceId === bad || x.traceId === unsampled).length, 0);
  });
});

describe('the collector down, or sampling off', () => {
  test('collector down: deliveries go on, spans are dropped and counted', async () => {
    const stack = await startStack({ dispatchers: 0 });
    const metricsPort = await freePort();
    const closed = await freePort();
    await startDispatcher({
      redis: stack.redis, bootstrapKey: stack.bootstrapKey, apiPort: stack.apiServer.port,
      env: { WH_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`, WH_METRICS_LISTEN: `127.0.0.1:${metricsPort}` },
    });
    const receiver = await startReceiver();
    const hook = (await createWebhook(stack, { company_sid: `CO_td${hex(3)}`, url: receiver.url('/ok') })).webhook;
    const n = 300;
    const t0 = Date.now();
    await publishEvents(stack.redis, [...Array(n)].map(() => ({
      company_sid: hook.company_sid, event_type: 'a.b', payload: '{}', traceparent: traceparent(hex(16), hex(8)),
    })));
    await receiver.waitFor(n, 20000);
    const took = Date.now() - t0;
    let m;
    await waitUntil(async () => value(m = await dispatcherMetrics(metricsPort), 'webhooks_trace_spans_dropped_total') === n,
      { timeoutMs: 10000, intervalMs: 200, what: `all ${n} spans counted as dropped` });
    assert.equal(value(m, 'webhooks_trace_spans_exported_total'), 0);
    // Not waiting on the collector: far below one export timeout (5 s) per batch.
    assert.ok(took < 15000, `${n} deliveries took ${took} ms`);
  });

  test('api: a collector that never answers holds up no request; its spans are dropped and counted', async () => {
    const hung = await startHungCollector();
    const stack = await startStack({ dispatchers: 0, apiEnv: { WH_OTLP_ENDPOINT: hung.url, WH_API_WORKERS: '1' } });
    const hook = (await createWebhook(stack, { company_sid: `CO_th${hex(3)}`, url: 'http://127.0.0.1:9/x' })).webhook;
    const n = 1200;
    const slowest = [];
    const t0 = Date.now();
    for (let i = 0; i < n; i += 20) {
      await Promise.all([...Array(20)].map(async () => {
        const t = Date.now();
        const res = await stack.api('POST', '/v1/events', { company_sid: hook.company_sid, event_type: 'a.b', payload: {} },
          { headers: { traceparent: traceparent(hex(16), hex(8)) } });
        assert.equal(res.status, 202);
        slowest.push(Date.now() - t);
      }));
    }
    const took = Date.now() - t0;
    slowest.sort((a, b) => b - a);
    // An export is in flight (5 s to time out) the whole time: requests never wait for it.
    assert.ok(slowest[0] < 2000, `slowest request ${slowest[0]} ms`);
    let m;
    await waitUntil(async () => sum(m = await apiMetrics(stack), 'webhooks_trace_spans_dropped_total') >= 512,
      { timeoutMs: 15000, intervalMs: 250, what: 'a failed batch of spans counted as dropped' });
    assert.equal(sum(m, 'webhooks_trace_spans_exported_total'), 0);
    assert.ok(took < 30000, `${n} requests took ${took} ms`);
    await hung.close();
  });

  test('WH_TRACE_SAMPLE=0 sends nothing', async () => {
    const collector = await startCollector();
    const stack = await startStack({ dispatchers: 0, apiEnv: { WH_OTLP_ENDPOINT: collector.url, WH_TRACE_SAMPLE: '0' } });
    const metricsPort = await freePort();
    await startDispatcher({
      redis: stack.redis, bootstrapKey: stack.bootstrapKey, apiPort: stack.apiServer.port,
      env: { WH_OTLP_ENDPOINT: collector.url, WH_TRACE_SAMPLE: '0', WH_METRICS_LISTEN: `127.0.0.1:${metricsPort}` },
    });
    const receiver = await startReceiver();
    const hook = (await createWebhook(stack, { company_sid: `CO_ts${hex(3)}`, url: receiver.url('/ok'), propagate_trace: true })).webhook;
    await publishEvents(stack.redis, [...Array(20)].map(() => ({
      company_sid: hook.company_sid, event_type: 'a.b', payload: '{}', traceparent: traceparent(hex(16), hex(8)),
    })));
    // Over the api too: its request is not recorded, the caller's context goes on as given.
    const trace = hex(16);
    const parent = hex(8);
    const res = await stack.api('POST', '/v1/events', { company_sid: hook.company_sid, event_type: 'a.b', payload: {} },
      { headers: { traceparent: traceparent(trace, parent) } });
    assert.equal(res.status, 202, res.text);
    await receiver.waitFor(21, 10000);
    const got = receiver.requests.find((r) => r.headers.traceparent?.includes(trace));
    assert.ok(got, 'propagated with the caller\'s trace id');
    await sleep(2500);
    assert.equal(collector.got.requests.length, 0);
    const m = await dispatcherMetrics(metricsPort);
    assert.equal(value(m, 'webhooks_trace_spans_dropped_total'), 0);
    assert.equal(value(m, 'webhooks_trace_spans_exported_total'), 0);
    const am = await apiMetrics(stack);
    assert.equal(sum(am, 'webhooks_trace_spans_dropped_total'), 0);
    assert.equal(sum(am, 'webhooks_trace_spans_exported_total'), 0);
    await collector.close();
  });
});

test('a wrong tracing variable stops the dispatcher at start with one line naming it', async () => {
  const secret = `s3cr3t${hex(4)}`;
  const cases = [
    [{ WH_OTLP_ENDPOINT: 'ftp://collector' }, /WH_OTLP_ENDPOINT/],
    [{ WH_TRACE_SAMPLE: '1.5' }, /WH_TRACE_SAMPLE/],
    [{ WH_TRACE_SAMPLE: 'half' }, /WH_TRACE_SAMPLE/],
    [{ WH_OTLP_HEADERS: `x-key=${secret}\r\nx: y` }, /WH_OTLP_HEADERS/],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'novalue' }, /OTEL_RESOURCE_ATTRIBUTES/],
  ];
  for (const [env, name] of cases) {
    const res = await runToExit(BIN.dispatcher, {
      env: programEnv({ redis: { url: 'redis://127.0.0.1:1/0' }, apiPort: 1, bootstrapKey: undefined, env }),
    });
    assert.equal(res.code, 2, `${JSON.stringify(env)}: ${res.stderr}`);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], name);
    assert.doesNotMatch(res.stderr, new RegExp(secret));
  }
});
