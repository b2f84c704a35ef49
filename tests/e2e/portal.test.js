// The delivery portal in a real browser (Debian's chromium driven by
// puppeteer-core; nothing downloaded): a session URL opens it; an
// endpoint is created, tested against a real receiver, watched, its dead
// letters delivered again and recovered, its key rotated, a delivery
// checked in the signature debugger (real and tampered); hostile answers
// never execute (dialogs, console errors, CSP violations are listened
// for); expired, revoked, tampered, foreign and read-only sessions and
// token-less (cross-site) changes are refused; axe-core finds no serious
// or critical violation on any page; the first page of 1 000 endpoints
// renders within 300 ms. Screenshots of each page go to var/portal/.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
import { KEYS, REPO_ROOT, sleep, startReceiver, startStack, useHarness, waitUntil } from './lib/harness.js';
import { checkSigned, companyKey, rnd } from './lib/checks.js';

useHarness();

const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(REPO_ROOT, 'var', 'portal');
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">click</a>' +
  '\u001b[31mred\u001b[0m \u202egnp.exe\u202c <svg onload=alert(4)>';

let stack;
let api;
let browser;
let profile;
let company;
let rcv;
const problems = []; // dialogs, console errors, CSP violations, page errors

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is installed (.ci/deps)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  stack = await startStack({ dispatchers: 1 });
  api = stack.api;
  company = `CO_portal${rnd(3)}`;
  rcv = await startReceiver({ body: 'thanks' });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-chromium-'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

const base = () => stack.apiServer.baseUrl;

async function session(body = {}) {
  const res = await api('POST', '/v1/portal-sessions', { company_sid: company, ...body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

// A page that reports every dialog, console error, uncaught error and CSP
// violation into `problems` (the listener is installed through the
// DevTools protocol, which the page's CSP does not govern).
async function newPage() {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('dialog', async (d) => {
    problems.push(`dialog: ${d.message()}`);
    await d.dismiss();
  });
  page.on('console', (m) => {
    // The browser logs each refused call (a 400 of a bad filter, the 401/403/404 tested) as an error.
    if (m.type() === 'error' && !/status of 40[0134]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

async function ready(page, what) {
  await page.waitForSelector(`main[data-ready="${what}"]`, { timeout: 20000 });
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe on ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// A small picture of the top of the page, for docs/portal.md.
async function docShot(page, name, height = 560) {
  await page.evaluate(() => { document.getElementById('status').textContent = ''; });
  await page.screenshot({ path: path.join(SHOTS, `doc-${name}.png`), clip: { x: 0, y: 0, width: 1140, height } });
}

async function clickText(page, selector, text) {
  const els = await page.$$(selector);
  for (const el of els) {
    if ((await el.evaluate((e) => e.textContent.trim())) === text) {
      await el.click();
      return el;
    }
  }
  throw new Error(`no ${selector} "${text}"`);
}

let page;
let sess;
let hookSid;

describe('the portal, in order', () => {
  test('a session URL opens the endpoints page; the token leaves the address bar', async () => {
    sess = await session();
    page = await newPage();
    await page.goto(base() + sess.url);
    await ready(page, 'endpoints');
    assert.doesNotMatch(page.url(), /token=/, 'the token is taken out of the URL');
    await shot(page, 'endpoints-empty');
    await axe(page, 'endpoints (empty)');
  });

  test('create an endpoint from the form', async () => {
    await page.type('form.grid input[type=url]', rcv.url('/hook'));
    const label = await page.$$('form.grid input[type=text]');
    await label[0].type('Main receiver');
    await clickText(page, 'button', 'Create endpoint');
    await ready(page, 'endpoint');
    hookSid = decodeURIComponent(page.url().split('#/endpoint/')[1]);
    const w = await api('GET', `/v1/webhooks/${hookSid}`);
    assert.equal(w.status, 200);
    assert.equal(w.json.webhook.company_sid, company);
    assert.equal(w.json.webhook.url, rcv.url('/hook'));
    await shot(page, 'endpoint');
    await axe(page, 'endpoint');
  });

  test('delivery control from the edit form: retry schedule, rate limit, filter and propagate_trace saved, then removed', async () => {
    // Set the edit form's controls by their labels, then submit it.
    const setAndSave = async (values) => {
      await page.evaluate((v) => {
        let form;
        for (const [label, value] of Object.entries(v)) {
          const l = [...document.querySelectorAll('form.grid label')].find((x) => x.textContent === label);
          const control = document.getElementById(l.htmlFor);
          if (control.type === 'checkbox') control.checked = value;
          else control.value = value;
          form = control.form;
        }
        document.querySelector('main').dataset.ready = 'saving';
        form.requestSubmit();
      }, values);
      await ready(page, 'endpoint');
    };
    const filter = { or: [{ prefix: ['event_type', 'call.'] }, { eq: ['event_type', 'webhook.test'] }] };
    await setAndSave({ 'Retry schedule (s)': '1, 60', 'Rate limit (requests/s)': '500', Burst: '50', Filter: JSON.stringify(filter), 'Propagate trace': true });
    let w = (await api('GET', `/v1/webhooks/${hookSid}`)).json.webhook;
    assert.deepEqual(w.retry_schedule_s, [1, 60]);
    assert.deepEqual(w.rate_limit, { per_second: 500, burst: 50 });
    assert.deepEqual(w.filter, filter);
    assert.equal(w.propagate_trace, true);
    assert.equal(await page.evaluate(() => document.querySelector('form.grid input[type=checkbox]').checked), true, 'shown checked');
    const shown = await page.evaluate(() => [...document.querySelectorAll('form.grid textarea')].map((t) => t.value));
    assert.ok(shown.includes(JSON.stringify(filter)), `the filter is shown: ${JSON.stringify(shown)}`);
    await setAndSave({ 'Retry schedule (s)': '', 'Rate limit (requests/s)': '', Burst: '', Filter: '', 'Propagate trace': false });
    w = (await api('GET', `/v1/webhooks/${hookSid}`)).json.webhook;
    assert.equal(w.propagate_trace, false);
    assert.equal(w.retry_schedule_s, null);
    assert.equal(w.rate_limit, null);
    assert.equal(w.filter, null);
  });

  test('send a test event to a real receiver: its hostile answer is shown as text and nothing runs', async () => {
    rcv.setResponse({ status: 200, body: HOSTILE, headers: { 'content-type': 'text/html' } });
    const before0 = rcv.requests.length;
    await clickText(page, 'button', 'Send test event');
    await page.waitForSelector('[data-test-result]', { timeout: 40000 });
    assert.ok(rcv.requests.length > before0, 'the receiver got the test');
    const answer = await page.$eval('[data-test-result] pre.answer', (e) => e.textContent);
    assert.ok(answer.includes('<script>alert(1)</script>'), `shown as text: ${answer}`);
    assert.ok(answer.includes('\\u{1b}[31m') && answer.includes('\\u{202e}'), 'control characters made visible');
    const injected = await page.evaluate(() => ({
      scripts: [...document.scripts].map((s) => s.src),
      imgs: document.querySelectorAll('main img, main svg[onload], main a[href^="javascript"]').length,
    }));
    assert.deepEqual(injected.scripts, [`${base()}/portal/app.js`]);
    assert.equal(injected.imgs, 0);
    await sleep(300);
    assert.deepEqual(problems, [], 'no dialog, console error or CSP violation');
    await shot(page, 'test-event');
    await axe(page, 'endpoint (test event answered)');
    rcv.setResponse({ status: 200, body: 'thanks', headers: {} });
  });

  test('published events appear in the attempt log; an attempt\'s detail shows the hostile answer as text', async () => {
    rcv.setResponse({ status: 200, body: HOSTILE });
    const evts = [];
    for (let i = 0; i < 3; i++) {
      const e = `evt_p${rnd(4)}`;
      evts.push(e);
      const r = await api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', event_sid: e, payload: { i } });
      assert.equal(r.status, 202, r.text);
    }
    await waitUntil(async () => (await api('GET', `/v1/webhooks/${hookSid}/attempts`)).json.attempts.length >= 3, { what: '3 attempts' });
    await clickText(page, 'button', 'Refresh');
    await page.waitForFunction((n) => document.querySelectorAll('table.attempts tbody tr').length >= n, {}, 3);
    const shown = await page.$$eval('table.attempts tbody td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
    for (const e of evts) assert.ok(shown.includes(e), `${e} listed`);
    await axe(page, 'endpoint (attempts listed)');
    const newest = await page.$eval('table.attempts tbody td:nth-child(2)', (t) => t.textContent);
    await page.click('table.attempts tbody tr a');
    await ready(page, 'attempt');
    const ans = await page.$eval('pre.answer', (e) => e.textContent);
    assert.ok(ans.includes('<img src=x onerror="alert(2)">'), ans);
    // The headers we sent, as the receiver got them: the signatures included.
    const got = rcv.requests.find((q) => q.headers['webhook-id'] === newest);
    const sent = (await page.$eval('pre.sent-headers', (e) => e.textContent)).split('\n');
    for (const n of ['webhook-signature', 'Streem-Signature', 'webhook-timestamp', 'Streem-Sent-At']) {
      assert.ok(sent.includes(`${n}: ${got.headers[n.toLowerCase()]}`), `${n} as the receiver got it: ${sent.join(' | ')}`);
    }
    await shot(page, 'attempt');
    await docShot(page, 'attempt', 800);
    await axe(page, 'attempt');
    assert.deepEqual(problems, []);
    rcv.setResponse({ status: 200, body: 'thanks' });
  });

  test('an attempt\'s detail shows the ordering key as text; "Send again" resends the delivered event, signed, same webhook-id', async () => {
    const evt = `evt_key${rnd(4)}`;
    const key = `call/CA_<img src=x onerror="alert(5)">\u202e${rnd(2)}`;
    assert.equal((await api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', event_sid: evt, ordering_key: key, payload: { k: 1 } })).status, 202);
    let first;
    await waitUntil(async () => {
      first = (await api('GET', `/v1/webhooks/${hookSid}/attempts`)).json.attempts.find((a) => a.event_sid === evt && a.outcome === 'succeeded');
      return first;
    }, { what: 'the keyed event delivered' });
    rcv.reset();
    await page.goto(`${base()}/portal/#/attempt/${hookSid}/${encodeURIComponent(first.id)}`);
    await ready(page, 'attempt');
    const shownKey = await page.$eval('code.ordering-key', (e) => e.textContent);
    assert.equal(shownKey, key.replace('\u202e', '\\u{202e}'), 'the key as text, U+202E made visible');
    assert.equal(await page.$$eval('main img', (x) => x.length), 0, 'no element made from the key');
    assert.equal(await page.$$eval('table.series tbody tr', (r) => r.length), 1, 'one attempt of this event so far');
    await axe(page, 'attempt (ordering key, send again)');
    await clickText(page, 'button', 'Send again');
    await page.waitForSelector('[data-resend="succeeded"]', { timeout: 30000 });
    const [got] = await rcv.waitFor(1, 15000);
    const keys = (await api('GET', `/v1/webhooks/${hookSid}/signing-keys`)).json.signing_keys;
    checkSigned(got, keys, evt, 'resent from the portal');
    assert.equal(await page.$$eval('table.series tbody tr', (r) => r.length), 2, 'the new attempt listed');
    assert.match(await page.$eval('[data-resend]', (e) => e.textContent), /^Sent again at .*succeeded \(status 200\)/);
    await shot(page, 'attempt-resent');
    await axe(page, 'attempt (resent)');
    // An event without a key shows no ordering key.
    await clickText(page, 'a', '← Endpoint');
    await ready(page, 'endpoint');
    const plain = (await api('GET', `/v1/webhooks/${hookSid}/attempts`)).json.attempts.find((a) => a.event_sid.startsWith('evt_p'));
    await page.goto(`${base()}/portal/#/attempt/${hookSid}/${encodeURIComponent(plain.id)}`);
    await ready(page, 'attempt');
    assert.equal(await page.$$eval('code.ordering-key', (x) => x.length), 0);
    assert.deepEqual(problems, []);
  });

  test('the attempt log\'s filters (event type, status, time) are the api\'s query parameters', async () => {
    const sms = `evt_sms${rnd(4)}`;
    assert.equal((await api('POST', '/v1/events', { company_sid: company, event_type: 'sms.sent', event_sid: sms, payload: {} })).status, 202);
    await waitUntil(async () => (await api('GET', `/v1/webhooks/${hookSid}/attempts?event_type=sms.sent`)).json.attempts.length === 1, { what: 'the sms attempt' });
    await page.goto(`${base()}/portal/#/endpoint/${hookSid}`);
    await ready(page, 'endpoint');
    const asked = [];
    const onReq = (r) => { if (r.url().includes('/attempts?')) asked.push(new URL(r.url()).searchParams); };
    page.on('request', onReq);
    const submit = (values) => page.evaluate((v) => {
        const form = document.querySelector('form[aria-label="Filter attempts"]');
        for (const [label, value] of Object.entries(v)) {
          const l = [...form.querySelectorAll('label')].find((x) => x.textContent === label);
          document.getElementById(l.htmlFor).value = value;
        }
        document.querySelector('table.attempts')?.remove();
        form.requestSubmit();
      }, values);
    const filterBy = async (values) => {
      await submit(values);
      await page.waitForFunction(() => document.querySelector('table.attempts') || [...document.querySelectorAll('main p')].some((x) => x.textContent === 'No attempts.'));
      return page.$$eval('table.attempts tbody tr', (rows) => rows.map((r) => [r.children[1].textContent, r.children[2].textContent]));
    };
    assert.deepEqual(await filterBy({ 'Event type': 'sms.*' }), [[sms, 'sms.sent']]);
    assert.equal(asked.at(-1).get('event_type'), 'sms.*', 'sent to the api');
    const ended = await filterBy({ 'Event type': 'call.ended', Status: 'succeeded' });
    assert.ok(ended.length >= 3 && ended.every(([, t]) => t === 'call.ended'), JSON.stringify(ended));
    assert.equal(asked.at(-1).get('status'), 'succeeded');
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    assert.deepEqual(await filterBy({ 'Event type': '', Status: '', Since: local(new Date(Date.now() + 3600e3)) }), []);
    assert.ok(asked.at(-1).get('since'), 'the time went to the api');
    await axe(page, 'endpoint (filtered attempts)');
    // A bad value is the api's 400, said next to the form.
    await submit({ Since: '', 'Event type': 'Not A Type' });
    await page.waitForSelector('form[aria-label="Filter attempts"] ~ p[role="alert"]');
    assert.match(await page.$eval('p[role="alert"]', (e) => e.textContent), /event_type/);
    page.off('request', onReq);
    assert.deepEqual(problems, []);
    await page.goto(`${base()}/portal/#/endpoints`); // the next test opens the endpoint afresh
    await ready(page, 'endpoints');
  });

  test('a failing receiver makes a dead letter; "Deliver again" delivers it, signed', async () => {
    const r0 = await api('PATCH', `/v1/webhooks/${hookSid}`, { webhook: { max_attempts: 1 } });
    assert.equal(r0.status, 200);
    rcv.setResponse({ status: 500, body: 'down' });
    const evt = `evt_dead${rnd(4)}`;
    assert.equal((await api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', event_sid: evt, payload: { d: 1 } })).status, 202);
    await waitUntil(async () => (await api('GET', `/v1/webhooks/${hookSid}/dead-letters`)).json.dead_letters.some((d) => d.event_sid === evt), { what: 'the dead letter' });
    rcv.setResponse({ status: 200, body: 'thanks' });
    rcv.reset();
    await page.goto(`${base()}/portal/#/endpoint/${hookSid}`);
    await ready(page, 'endpoint');
    await page.waitForSelector(`tr[data-event="${evt}"] button`);
    // The charts draw the dispatchers' hourly rollup.
    await page.waitForSelector('svg title#c-del');
    const hours = (await api('GET', `/v1/webhooks/${hookSid}/stats`)).json.stats.hours;
    const title = await page.$eval('svg title#c-del', (t) => t.textContent);
    const last = hours[23];
    assert.ok(last.succeeded >= 3 && last.failed >= 1, JSON.stringify(last));
    assert.ok(title.endsWith(`${last.succeeded} ok/${last.failed} failed`), `chart: ${title}`);
    await shot(page, 'dead-letters');
    await axe(page, 'endpoint (dead letters)');
    await page.click(`tr[data-event="${evt}"] button`);
    const [got] = await rcv.waitFor(1, 15000);
    const keys = (await api('GET', `/v1/webhooks/${hookSid}/signing-keys`)).json.signing_keys;
    checkSigned(got, keys, evt, 'redelivered from the portal');
  });

  test('recover a window: the job\'s progress is shown and the dead letter arrives', async () => {
    rcv.setResponse({ status: 500, body: 'down' });
    const evt = `evt_rec${rnd(4)}`;
    assert.equal((await api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', event_sid: evt, payload: { r: 1 } })).status, 202);
    await waitUntil(async () => (await api('GET', `/v1/webhooks/${hookSid}/dead-letters`)).json.dead_letters.some((d) => d.event_sid === evt), { what: 'the dead letter' });
    rcv.setResponse({ status: 200, body: 'thanks' });
    rcv.reset();
    // A fresh endpoint page, drawn after the letter died: the form's window is set as the page
    // is drawn ("To" a minute on, to the minute), and a goto to the #/ address already shown
    // draws nothing again, so the page the last test left could end its window before this
    // letter died (then the job is done at once, having scanned nothing).
    await page.goto(`${base()}/portal/#/endpoints`);
    await ready(page, 'endpoints');
    await page.goto(`${base()}/portal/#/endpoint/${hookSid}`);
    await ready(page, 'endpoint');
    await page.waitForSelector(`tr[data-event="${evt}"]`);
    await clickText(page, 'button', 'Recover window');
    const line = await (await page.waitForFunction(() => document.querySelector('[data-job-state="done"]')?.textContent, { timeout: 20000 })).jsonValue();
    assert.ok(Number(/delivered again (\d+)/.exec(line)?.[1]) >= 1, `the job moved the dead letter: ${line}`);
    const reqs = await rcv.waitFor(1, 15000);
    assert.ok(reqs.some((q) => q.headers['webhook-id'] === evt), 'the recovered event arrived');
    await shot(page, 'recover');
    await docShot(page, 'endpoint');
  });

  test('recover a window with "every event": delivered events of the window arrive again, signed', async () => {
    const evts = [`evt_all${rnd(4)}`, `evt_all${rnd(4)}`];
    for (const e of evts) assert.equal((await api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', event_sid: e, payload: { all: 1 } })).status, 202);
    await waitUntil(async () => {
      const as = (await api('GET', `/v1/webhooks/${hookSid}/attempts`)).json.attempts;
      return evts.every((e) => as.some((a) => a.event_sid === e && a.outcome === 'succeeded'));
    }, { what: 'both delivered' });
    rcv.reset();
    await page.goto(`${base()}/portal/#/endpoints`); // a fresh endpoint page, without the last job's line
    await ready(page, 'endpoints');
    await page.goto(`${base()}/portal/#/endpoint/${hookSid}`);
    await ready(page, 'endpoint');
    await page.evaluate(() => {
      const form = document.querySelector('form[aria-label="Recover a time window"]');
      const l = [...form.querySelectorAll('label')].find((x) => x.textContent === 'Send');
      document.getElementById(l.htmlFor).value = 'all';
    });
    await axe(page, 'endpoint (recover every event)');
    await clickText(page, 'button', 'Recover window');
    const line = await (await page.waitForFunction(() => document.querySelector('[data-job-state="done"]')?.textContent, { timeout: 30000 })).jsonValue();
    const moved = Number(/delivered again (\d+)/.exec(line)?.[1]);
    assert.ok(moved >= 2, line);
    // Every kept event of the window is sent again (the earlier tests' too): wait for all of them.
    await waitUntil(() => rcv.requests.length >= moved, { what: `${moved} events again`, timeoutMs: 30000 });
    for (const e of evts) assert.ok(rcv.requests.some((q) => q.headers['webhook-id'] === e), `${e} arrived again`);
    const keys = (await api('GET', `/v1/webhooks/${hookSid}/signing-keys`)).json.signing_keys;
    for (const e of evts) checkSigned(rcv.requests.find((q) => q.headers['webhook-id'] === e), keys, e, 'recovered with every event');
    assert.deepEqual(problems, []);
  });

  test('rotate a key: add one, and deliveries are signed with both; expire the old one', async () => {
    const before1 = (await api('GET', `/v1/webhooks/${hookSid}/signing-keys`)).json.signing_keys;
    const mine = `my-own-secret-${rnd(8)}`;
    await page.type('input[placeholder="generated if empty"]', mine);
    await clickText(page, 'button', 'Add key');
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-key]').length === n, {}, before1.length + 1);
    const keys = (await api('GET', `/v1/webhooks/${hookSid}/signing-keys`)).json.signing_keys;
    assert.equal(keys.length, before1.length + 1);
    // Reveal shows the new key's secret (as text).
    const newKey = keys.find((k) => !before1.some((b) => b.sid === k.sid));
    assert.equal(newKey.shared_secret, mine, 'the secret typed in');
    await page.click(`tr[data-key="${newKey.sid}"] td:nth-child(4) button`);
    assert.equal(await page.$eval(`tr[data-key="${newKey.sid}"] code.secret`, (e) => e.textContent), newKey.shared_secret);
    await page.click(`tr[data-key="${before1[0].sid}"] td:nth-child(5) button`);
    await waitUntil(async () => (await api('GET', `/v1/webhooks/${hookSid}/signing-keys/${before1[0].sid}`)).json.signing_key.expires_at !== null, { what: 'the old key expiring' });
    rcv.reset();
    const evt = `evt_rot${rnd(4)}`;
    assert.equal((await api('POST', '/v1/events', { company_sid: company, event_type: 'call.ended', event_sid: evt, payload: {} })).status, 202);
    const [got] = await rcv.waitFor(1, 15000);
    checkSigned(got, keys, evt, 'after rotation, every key');
    await shot(page, 'keys');
    await axe(page, 'endpoint (keys, a secret revealed)');
  });

  test('the signature debugger: a real delivery verifies, a tampered one does not and says why', async () => {
    const got = rcv.requests[rcv.requests.length - 1];
    const headerText = Object.entries(got.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
    await page.goto(`${base()}/portal/#/debugger`);
    await ready(page, 'debugger');
    await page.select('form.grid select', hookSid);
    const [hdrs, body] = await page.$$('form.grid textarea');
    await hdrs.type(headerText, { delay: 0 });
    await page.evaluate((t) => { document.querySelectorAll('form.grid textarea')[1].value = t; }, got.text);
    await clickText(page, 'button', 'Check signature');
    await page.waitForSelector('[data-verdict]');
    assert.equal(await page.$eval('[data-verdict]', (e) => e.dataset.verdict), 'valid');
    const signed = await page.$$eval('[data-verdict] pre', (p) => p[0].textContent);
    assert.ok(signed.startsWith('Streem-Sent-At=') && signed.endsWith(got.text), signed);
    await shot(page, 'debugger-valid');
    await page.evaluate(() => document.querySelector('[data-verdict]').scrollIntoView());
    await page.screenshot({ path: path.join(SHOTS, 'doc-debugger.png'), clip: { x: 0, y: await page.evaluate(() => window.scrollY), width: 960, height: 600 } });
    await axe(page, 'debugger');
    await page.evaluate((t) => { document.querySelectorAll('form.grid textarea')[1].value = t; }, got.text.replace('"sent_at":"', '"sent_at":"1'));
    await clickText(page, 'button', 'Check signature');
    await page.waitForSelector('[data-verdict="invalid"]');
    const notes = await page.$$eval('ul.notes li', (l) => l.map((x) => x.textContent));
    assert.ok(notes.some((n) => n.includes('sent_at')), `says what differs: ${notes}`);
    await page.evaluate((t) => { document.querySelectorAll('form.grid textarea')[1].value = t; }, `${got.text}\n`);
    await clickText(page, 'button', 'Check signature');
    await page.waitForFunction(() => [...document.querySelectorAll('ul.notes li')].some((l) => l.textContent.includes('trailing newline')));
    await shot(page, 'debugger-tampered');
    await axe(page, 'debugger (tampered)');
    assert.ok(body);
    assert.deepEqual(problems, []);
  });
});

describe('sessions refused', () => {
  test('expired, revoked and tampered links show "Session ended"', async () => {
    const s1 = await session();
    await stack.redis.call('HSET', KEYS.portal(s1.sid), 'expires_at', String(Date.now() - 1));
    const s2 = await session();
    assert.equal((await api('DELETE', `/v1/portal-sessions/${s2.sid}`)).status, 204);
    const s3 = await session();
    const tampered = s3.url.slice(0, -2) + (s3.url.endsWith('AA') ? 'BB' : 'AA');
    for (const [name, url] of [['expired', s1.url], ['revoked', s2.url], ['tampered', tampered]]) {
      const p = await newPage();
      await p.goto(base() + url);
      await ready(p, 'ended');
      if (name === 'expired') {
        await shot(p, 'session-ended');
        await axe(p, 'session ended');
      }
      await p.close();
    }
  });

  test('another company\'s endpoint is "Not found"', async () => {
    const other = await api('POST', '/v1/webhooks', { webhook: { company_sid: `CO_other${rnd(2)}`, url: rcv.url('/x') } });
    await page.goto(`${base()}${(await session()).url}`);
    await ready(page, 'endpoints');
    await page.goto(`${base()}/portal/#/endpoint/${other.json.webhook.sid}`);
    await ready(page, 'error');
    assert.match(await page.$eval('main h1', (e) => e.textContent), /Not found/);
    await axe(page, 'not found');
  });

  test('a read-only session cannot disable an endpoint', async () => {
    const ro = await session({ read_only: true });
    const p = await newPage();
    await p.goto(base() + ro.url);
    await ready(p, 'endpoints');
    await clickText(p, `tr[data-sid="${hookSid}"] button`, 'Disable');
    await p.waitForFunction(() => document.getElementById('status').textContent.includes('read-only'));
    assert.equal((await api('GET', `/v1/webhooks/${hookSid}`)).json.webhook.enabled, true);
    await shot(p, 'read-only');
    await axe(p, 'endpoints (read-only)');
    // Once refused, this tab knows: an attempt's page offers no "Send again" (a reload keeps it so).
    const one = (await api('GET', `/v1/webhooks/${hookSid}/attempts`)).json.attempts[0];
    await p.goto(`${base()}/portal/#/attempt/${hookSid}/${encodeURIComponent(one.id)}`);
    await p.reload();
    await ready(p, 'attempt');
    assert.equal(await p.$$eval('main button', (b) => b.filter((x) => x.textContent === 'Send again').length), 0);
    assert.match(await p.$eval('main', (m) => m.textContent), /This read-only session cannot send/);
    await p.close();
  });

  test('a change from another site without the token is refused (no cookie to ride on)', async () => {
    const evil = await startReceiver({ body: '<!doctype html><title>evil</title>', headers: { 'content-type': 'text/html' } });
    const p = await newPage();
    await p.goto(evil.url('/'));
    const before2 = (await api('GET', `/v1/webhooks?company_sid=${company}&page_size=100`)).json.webhooks.length;
    await p.evaluate(async (u) => {
      await fetch(`${u}/v1/webhooks`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ webhook: { url: 'https://evil.example/' } }) }).catch(() => {});
    }, base());
    await sleep(200);
    assert.equal((await api('GET', `/v1/webhooks?company_sid=${company}&page_size=100`)).json.webhooks.length, before2);
    await p.close();
  });
});

describe('a large account', () => {
  test('the first page of 1 000 endpoints renders within 300 ms', async () => {
    const big = `CO_big${rnd(3)}`;
    const k = await companyKey(api, big);
    const jobs = [];
    for (let i = 0; i < 1000; i++) jobs.push(i);
    const workers = Array.from({ length: 16 }, async () => {
      for (let i = jobs.shift(); i !== undefined; i = jobs.shift()) {
        const r = await api('POST', '/v1/webhooks', { webhook: { url: `https://example.com/h/${i}`, label: `hook ${String(i).padStart(4, '0')}` } }, { key: k.auth });
        assert.equal(r.status, 201, r.text);
      }
    });
    await Promise.all(workers);
    const s = (await api('POST', '/v1/portal-sessions', {}, { key: k.auth })).json;
    const p = await newPage();
    await p.goto(base() + s.url);
    await ready(p, 'endpoints');
    const t = await p.evaluate(() => ({ render: Number(document.getElementById('main').dataset.renderMs), sinceNav: performance.now() }));
    assert.equal(await p.$$eval('tbody tr', (r) => r.length), 25);
    console.log(`# 1000 endpoints: first page fetched and rendered in ${t.render} ms (${Math.round(t.sinceNav)} ms since navigation)`);
    assert.ok(t.render <= 300, `first page in ${t.render} ms`);
    await p.waitForSelector('main[data-sparks="done"]', { timeout: 30000 });
    await shot(p, 'endpoints-1000');
    await docShot(p, 'endpoints');
    await axe(p, 'endpoints (1000)');
    await p.close();
  });
});
