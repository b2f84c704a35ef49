// The end of a Redis Cluster ~recover batch (docs/design.md, "A ~recover
// job with include all"): common/lua/job_lease_end.lua alone against a
// real redis-server, before any dispatcher uses it (dispatcher/jobs.c runs
// it in the job's slot after each batch; resend.test.js and the cluster
// run of make test drive that path end to end).
//
// What it must hold, each shown by a test that fails without it:
//   - the holder's batch is accounted: counts added, cursor moved, state
//     written, lease given back; a short batch finishes the job;
//   - a dispatcher whose lease lapsed in a stall, while another took the
//     lease and moved the cursor on, adds its counts (its work happened)
//     but neither moves the cursor back nor frees the new holder's lease;
//   - "release" gives back only the caller's own lease;
//   - a job that expired while active leaves the active jobs and is not
//     created again as a hash without a TTL;
//   - a dead-letter job (no cursor) is accounted like before.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, randomHex, startRedis, useHarness } from './lib/harness.js';

useHarness();

const lua = fs.readFileSync(path.join(REPO_ROOT, 'common', 'lua', 'job_lease_end.lua'), 'utf8');

describe('job_lease_end.lua', () => {
  let redis;
  let sha;
  before(async () => {
    redis = await startRedis();
    sha = await redis.call('SCRIPT', 'LOAD', lua);
  });

  // A job of its own, active, with cursor `cursor` (null: none yet), and
  // the lease held by `holder` (null: nobody).
  async function job({ cursor = null, holder = null } = {}) {
    const sid = `jb_${randomHex(8)}`;
    const j = { sid, key: `wh:{g}:job:${sid}`, lease: `wh:{g}:job:${sid}:lease`, jobs: 'wh:{g}:jobs' };
    await redis.call('HSET', j.key, 'sid', sid, 'include', 'all', 'since', '1000', 'until', '9000', 'state', 'queued',
      'scanned', '0', 'moved', '0', 'skipped', '0', ...(cursor ? ['cursor', cursor[0], 'cursor_n', cursor[1]] : []));
    await redis.call('PEXPIRE', j.key, 604800000);
    await redis.call('HSET', j.jobs, sid, 'wh_x');
    if (holder) await redis.call('SET', j.lease, holder, 'PX', 60000);
    // end(consumer, mode, counts [s,m,k] | null, read cursor [c,n] | null, new cursor [c,n] | null)
    j.end = (consumer, mode, counts, read, next) =>
      redis.call('EVALSHA', sha, 3, j.lease, j.key, j.jobs, consumer, mode, sid, '5555',
        ...(counts ? counts.map(String) : ['', '', '']),
        ...(read ? read.map(String) : ['', '']),
        ...(next ? next.map(String) : ['', '']));
    j.get = async () => {
      const a = await redis.call('HGETALL', j.key);
      const o = {};
      for (let i = 0; i < a.length; i += 2) o[a[i]] = a[i + 1];
      return o;
    };
    j.active = async () => (await redis.call('HEXISTS', j.jobs, sid)) === 1;
    return j;
  }

  test("the holder's full batch: counts, cursor and state written, lease given back", async () => {
    const j = await job({ holder: 'A' });
    assert.equal(await j.end('A', 'running', [500, 480, 20], null, [1500, 3]), 1);
    const h = await j.get();
    assert.deepEqual([h.scanned, h.moved, h.skipped, h.cursor, h.cursor_n, h.state, h.updated_at], ['500', '480', '20', '1500', '3', 'running', '5555']);
    assert.equal(await redis.call('EXISTS', j.lease), 0, 'lease given back');
    assert.ok(await j.active());
    assert.ok((await redis.call('PTTL', j.key)) > 0, 'the job keeps its TTL');
  });

  test('a short batch of the holder finishes the job', async () => {
    const j = await job({ cursor: ['1500', '3'], holder: 'A' });
    assert.equal(await j.end('A', 'done', [7, 7, 0], ['1500', '3'], [1600, 1]), 1);
    const h = await j.get();
    assert.deepEqual([h.scanned, h.state, h.finished_at], ['7', 'done', '5555']);
    assert.equal(await j.active(), false, 'left the active jobs');
  });

  test('a lapsed holder adds its counts but neither moves the cursor back nor frees the next holder', async () => {
    // A read cursor C0 (none), stalled; its lease lapsed, B took it, ran
    // from C0 and then from C1, and holds it again for its next batch.
    const j = await job({ holder: 'A' });
    await redis.call('DEL', j.lease);
    await redis.call('SET', j.lease, 'B', 'PX', 60000);
    assert.equal(await j.end('B', 'running', [500, 500, 0], null, [1500, 3]), 1);
    await redis.call('SET', j.lease, 'B', 'PX', 60000);
    // A ends its stalled batch, which started from C0 and reached C1.
    assert.equal(await j.end('A', 'running', [500, 500, 0], null, [1500, 3]), 0);
    let h = await j.get();
    assert.deepEqual([h.scanned, h.moved, h.cursor, h.cursor_n], ['1000', '1000', '1500', '3'], 'counts of both, cursor as B left it');
    assert.equal(await redis.call('GET', j.lease), 'B', "B's lease is still B's");
    // Nor does A's short batch finish the job under B.
    assert.equal(await j.end('A', 'done', [1, 1, 0], null, [1501, 1]), 0);
    h = await j.get();
    assert.equal(h.state, 'running');
    assert.ok(await j.active());
    // B goes on from C1 and accounts normally.
    assert.equal(await j.end('B', 'running', [500, 500, 0], ['1500', '3'], [2500, 1]), 1);
    h = await j.get();
    assert.deepEqual([h.cursor, h.cursor_n], ['2500', '1']);
  });

  test('a lapsed lease nobody took: the cursor moves if it is still the one read', async () => {
    const j = await job({ cursor: ['1500', '3'], holder: 'A' });
    await redis.call('DEL', j.lease);
    assert.equal(await j.end('A', 'running', [500, 500, 0], ['1500', '3'], [2500, 1]), 1);
    const h = await j.get();
    assert.deepEqual([h.cursor, h.cursor_n], ['2500', '1']);
  });

  test("release gives back only the caller's own lease", async () => {
    const j = await job({ holder: 'B' });
    assert.equal(await j.end('A', 'release', null, null, null), 0);
    assert.equal(await redis.call('GET', j.lease), 'B');
    assert.equal(await j.end('B', 'release', null, null, null), 1);
    assert.equal(await redis.call('EXISTS', j.lease), 0);
    const h = await j.get();
    assert.deepEqual([h.state, h.scanned], ['queued', '0'], 'release writes nothing to the job');
  });

  test('a job that expired while active leaves the active jobs and is not created again', async () => {
    const j = await job({ holder: 'A' });
    await redis.call('DEL', j.key);
    assert.equal(await j.end('A', 'done', null, null, null), 0);
    assert.equal(await redis.call('EXISTS', j.key), 0, 'no job hash without a TTL');
    assert.equal(await j.active(), false);
    assert.equal(await redis.call('EXISTS', j.lease), 0, 'lease given back');
  });

  test('a dead-letter job (no cursor) is accounted batch after batch', async () => {
    const j = await job({ holder: 'A' });
    assert.equal(await j.end('A', 'running', [500, 500, 0], null, null), 1);
    await redis.call('SET', j.lease, 'C', 'PX', 60000);
    assert.equal(await j.end('C', 'done', [12, 12, 0], null, null), 1);
    const h = await j.get();
    assert.deepEqual([h.moved, h.state, h.cursor], ['512', 'done', undefined]);
    assert.equal(await j.active(), false);
  });
});
