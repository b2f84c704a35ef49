// Signing secrets at rest (issue 7): with WH_SECRETS_KEY the secrets are
// sealed (AES-256-GCM) in Redis, never readable there, still returned to
// their own company and still signing every delivery; a rotation (new key
// first, old key kept, `webhooks-api --reencrypt-secrets`, old key dropped)
// keeps every webhook working; and no secret appears in any log line.
// With E2E_REDIS=cluster the rotation's one seed is a node that holds none
// of the records (a replica of a master not serving {g}): the command must
// find the {g} slot's master itself (issue 20).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BIN,
  E2E_CLUSTER,
  KEYS,
  createWebhook,
  programEnv,
  runToExit,
  startReceiver,
  startStack,
  useHarness,
  waitUntil,
} from './lib/harness.js';
import { checkSigned, companyKey } from './lib/checks.js';

useHarness();

const ringKey = (kid) => `${kid}:${crypto.randomBytes(32).toString('base64')}`;

// The raw bytes of every signing key record of a webhook, as a Buffer each.
async function rawKeys(redis, webhookSid) {
  // HVALS through a Lua script returning hex keeps binary intact.
  const hex = await redis.call('EVAL', "local out = {} for _, v in ipairs(redis.call('HVALS', KEYS[1])) do out[#out + 1] = (v:gsub('.', function(ch) return string.format('%02x', ch:byte()) end)) end return out", 1, KEYS.webhookKeys(webhookSid));
  return hex.map((h) => Buffer.from(h, 'hex'));
}

// The cluster variables naming one seed that holds no record: a replica
// whose master does not serve the {g} slot. {} on one Redis.
async function seedWithoutRecords(redis, webhookSid) {
  if (!E2E_CLUSTER) return {};
  const home = await redis.masterOf(KEYS.webhook(webhookSid));
  for (const n of redis.nodes) {
    const role = await n.call('ROLE');
    if (role[0] === 'slave' && Number(role[2]) !== home.port) return redis.env([n]);
  }
  throw new Error('no replica of another master');
}

describe('signing secrets sealed at rest', () => {
  const OLD = ringKey('old');
  const NEW = ringKey('new');
  const SECRET = `my-own-shared-secret-${crypto.randomBytes(6).toString('hex')}`;
  let stack;
  let rcv;
  let hook;

  before(async () => {
    stack = await startStack({ dispatchers: 1, env: { WH_SECRETS_KEY: OLD } });
    rcv = await startReceiver();
    hook = await createWebhook(stack, { company_sid: 'CO_seal', url: rcv.url('/s') });
  });

  async function deliverOne(keys, where) {
    const res = await stack.api('POST', '/v1/events', { company_sid: 'CO_seal', event_type: 'call.ended', payload: { where } });
    assert.equal(res.status, 202, res.text);
    const sid = res.json.event.event_sid;
    await waitUntil(() => rcv.requests.some((r) => r.headers['webhook-id'] === sid), { what: `delivery ${where}` });
    checkSigned(rcv.requests.find((r) => r.headers['webhook-id'] === sid), keys, sid, where);
  }

  test('Redis holds no secret; its company reads it back; deliveries verify', async () => {
    const add = await stack.api('POST', `/v1/webhooks/${hook.webhook.sid}/signing-keys`, { signing_key: { shared_secret: SECRET } });
    assert.equal(add.status, 201, add.text);
    const keys = (await stack.api('GET', `/v1/webhooks/${hook.webhook.sid}/signing-keys`)).json.signing_keys;
    assert.ok(keys.some((k) => k.shared_secret === SECRET), 'returned to its own company');
    const mine = await companyKey(stack.api, 'CO_seal');
    const asCompany = await stack.api('GET', `/v1/webhooks/${hook.webhook.sid}/signing-keys`, undefined, { key: mine.auth });
    assert.equal(asCompany.status, 200);
    const other = await companyKey(stack.api, 'CO_other');
    const asOther = await stack.api('GET', `/v1/webhooks/${hook.webhook.sid}/signing-keys`, undefined, { key: other.auth });
    assert.equal(asOther.status, 404, 'another company never sees them');
    const raw = await rawKeys(stack.redis, hook.webhook.sid);
    assert.equal(raw.length, 2);
    for (const r of raw) {
      assert.ok(r.includes('secret_enc'), 'sealed form');
      assert.ok(!r.includes(SECRET), 'the secret is not in Redis');
      for (const k of keys) assert.ok(!r.includes(k.shared_secret), 'no generated secret either');
      assert.ok(r.includes('old'), 'sealed with the first key of the ring (its kid)');
    }
    await deliverOne(keys, 'sealed');
  });

  test('rotation: new key first, re-encrypt, drop the old key', async () => {
    const keys = (await stack.api('GET', `/v1/webhooks/${hook.webhook.sid}/signing-keys`)).json.signing_keys;
    // A webhook holding a client certificate's key, sealed with old too.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wh-seal-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=sealed'], { cwd: dir, stdio: 'ignore' });
    const tlsHook = await createWebhook(stack, {
      company_sid: 'CO_seal2', url: rcv.url('/tls'),
      tls_client_certificate: { certificate_pem: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8'), private_key_pem: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8') },
    });
    fs.rmSync(dir, { recursive: true, force: true });
    const tlsRecord = async () => String(await stack.redis.call('GET', KEYS.webhook(tlsHook.webhook.sid)));
    assert.ok((await tlsRecord()).includes('tls_key_enc') && (await tlsRecord()).includes('old'));
    const both = `${NEW},${OLD}`;
    for (const p of [stack.apiServer, ...stack.dispatchers]) {
      p.extraEnv = { ...p.extraEnv, WH_SECRETS_KEY: both };
      await p.restart();
    }
    await deliverOne(keys, 'both keys, records still sealed with old');
    const seed = await seedWithoutRecords(stack.redis, hook.webhook.sid);
    const env = programEnv({ redis: stack.redis, apiPort: stack.apiServer.port, bootstrapKey: stack.bootstrapKey, env: { WH_SECRETS_KEY: both, ...seed } });
    const r = await runToExit(BIN.api, { args: ['--reencrypt-secrets'], env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /"rewritten":[1-9]/);
    const seen = /"keys":(\d+)/.exec(r.stderr)[1];
    // On a cluster, any node as the only seed finds the same records.
    for (const n of E2E_CLUSTER ? stack.redis.nodes : []) {
      const again = await runToExit(BIN.api, { args: ['--reencrypt-secrets'], env: { ...env, ...stack.redis.env([n]) } });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(/"keys":(\d+)/.exec(again.stderr)?.[1], seen, `seed ${n.port}: ${again.stderr}`);
    }
    for (const raw of await rawKeys(stack.redis, hook.webhook.sid)) {
      assert.ok(raw.includes('new') && !raw.includes('old'), 'sealed with the new key now');
    }
    const rec = await tlsRecord();
    assert.ok(rec.includes('new') && !rec.includes('old'), 'the client key too');
    for (const p of [stack.apiServer, ...stack.dispatchers]) {
      p.extraEnv = { ...p.extraEnv, WH_SECRETS_KEY: NEW };
      await p.restart();
    }
    await deliverOne(keys, 'new key only');
    const shown = await stack.api('GET', `/v1/webhooks/${tlsHook.webhook.sid}`);
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.json.webhook.tls_client_certificate.subject, 'CN=sealed');
    const again = (await stack.api('GET', `/v1/webhooks/${hook.webhook.sid}/signing-keys`)).json.signing_keys;
    assert.deepEqual(again.map((k) => k.shared_secret).sort(), keys.map((k) => k.shared_secret).sort());
  });

  test('no secret in any log line of any program', async () => {
    const keys = (await stack.api('GET', `/v1/webhooks/${hook.webhook.sid}/signing-keys`)).json.signing_keys;
    const logs = [stack.apiServer, ...stack.dispatchers].map((p) => p.proc.output.stdout + p.proc.output.stderr).join('\n');
    for (const k of keys) {
      assert.ok(!logs.includes(k.shared_secret), 'shared secret not logged');
      assert.ok(!logs.includes(k.standard_webhooks_secret), 'whsec_ form not logged');
    }
    assert.ok(!logs.includes(NEW.split(':')[1]) && !logs.includes(OLD.split(':')[1]), 'WH_SECRETS_KEY not logged');
    assert.ok(!logs.includes(stack.bootstrapKey.split(':')[1]), 'API key secret not logged');
  });

  test('a bad WH_SECRETS_KEY stops both programs with one line naming it', async () => {
    for (const bin of [BIN.api, BIN.dispatcher]) {
      const r = await runToExit(bin, { env: { WH_SECRETS_KEY: 'k1:dG9vIHNob3J0', WH_REDIS_URL: stack.redis.url } });
      assert.equal(r.code, 2, `${bin}: ${r.stderr}`);
      assert.match(r.stderr, /WH_SECRETS_KEY/);
      assert.ok(!r.stderr.includes('dG9vIHNob3J0'), 'the key is not echoed');
    }
  });

  test('a record sealed with a key the ring lacks is unreadable, not misused', async () => {
    const env = { WH_SECRETS_KEY: ringKey('stranger') };
    stack.apiServer.extraEnv = { ...stack.apiServer.extraEnv, ...env };
    await stack.apiServer.restart();
    const res = await stack.api('GET', `/v1/webhooks/${hook.webhook.sid}/signing-keys`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.signing_keys.length, 0, 'unreadable keys are not shown, nor their bytes');
    assert.equal(await stack.redis.call('EXISTS', KEYS.webhookKeys(hook.webhook.sid)), 1, 'and not deleted');
  });
});
