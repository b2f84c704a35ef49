// A private Redis Cluster on loopback for the e2e tests (and the bench's
// cluster section): N masters with one replica each by default
// (redis-cli --cluster create), a short node timeout so
// that a failover takes a second or two, every node a harness Redis
// (its own port and directory, torn down at cleanup).
//
// cluster.call(...) routes a command the way a client must: sent to a
// node, it follows the MOVED or ASK the node answers, so the test needs
// no slot arithmetic of its own (the programs' is what is under test).
// Commands without a key go to the master of wh:{0}:events ("home").

import { execFile } from 'node:child_process';

import { freePort, startRedis, waitUntil, KEYS } from './harness.js';
import { RespError } from './resp.js';

function cli(args, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')}: ${err.message} ${stderr} ${stdout}`));
      else resolve(stdout);
    });
  });
}

// Commands whose key is the argument after their subcommand.
const SUBCOMMANDED = new Set(['XGROUP', 'XINFO', 'OBJECT', 'MEMORY']);
const KEYLESS = new Set(['CLIENT', 'CLUSTER', 'INFO', 'PING', 'SCRIPT', 'WAIT', 'FLUSHALL', 'DBSIZE']);

export class Cluster {
  constructor(nodes) {
    this.nodes = nodes;
  }

  // What programEnv reads; env() sets the cluster variables over it.
  get url() {
    return this.nodes[0].url;
  }

  byPort(port) {
    return this.nodes.find((n) => n.port === Number(port));
  }

  // The environment that points the programs at this cluster.
  env(seeds = this.nodes.slice(0, 2)) {
    return {
      WH_REDIS_URL: `redis://127.0.0.1:${seeds[0].port}/0`,
      WH_REDIS_CLUSTER_NODES: seeds.map((n) => `127.0.0.1:${n.port}`).join(','),
    };
  }

  // The master serving key now (asked of the cluster).
  async masterOf(key) {
    const live = this.nodes.filter((n) => n.proc?.running);
    const slot = await live[0].call('CLUSTER', 'KEYSLOT', key);
    const ranges = await live[0].call('CLUSTER', 'SLOTS');
    for (const [from, to, [, port]] of ranges) {
      if (slot >= from && slot <= to) return this.byPort(port);
    }
    throw new Error(`no master for slot ${slot}`);
  }

  // The port of the master serving key (a client of one node publishes there).
  async portFor(key) {
    return (await this.masterOf(key)).port;
  }

  async masters() {
    const live = this.nodes.filter((n) => n.proc?.running);
    const ranges = await live[0].call('CLUSTER', 'SLOTS');
    return [...new Set(ranges.map((r) => r[2][1]))].map((p) => this.byPort(p));
  }

  async call(...args) {
    const cmd = String(args[0]).toUpperCase();
    let node;
    if (KEYLESS.has(cmd)) node = await this.masterOf(KEYS.events);
    else node = this.nodes.find((n) => n.proc?.running);
    for (let hop = 0; hop < 8; hop++) {
      try {
        return await node.call(...args);
      } catch (err) {
        if (!(err instanceof RespError)) throw err;
        const m = /^(MOVED|ASK) \d+ [^:]*:(\d+)$/.exec(err.message);
        if (!m) throw err;
        node = this.byPort(m[2]);
        if (m[1] === 'ASK') {
          const c = await node.client();
          await c.call('ASKING');
          const r = await c.call(...args);
          c.close();
          return r;
        }
      }
    }
    throw new Error(`too many redirects for ${args.join(' ')}`);
  }

  // The whole cluster down and back, as a single Redis' stop() and
  // start(): every node stops; start() brings each back on its port and
  // directory (nodes.conf keeps who serves which slots, the append-only
  // file the data when the cluster was made with appendonly) and waits
  // until every slot is served again.
  async stop() {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  async start() {
    await Promise.all(this.nodes.map((n) => n.start()));
    await this.waitHealthy();
    return this;
  }

  // Every node agrees that all slots are served (after create, a failover
  // or a slot move).
  async waitHealthy({ timeoutMs = 30000 } = {}) {
    await waitUntil(
      async () => {
        for (const n of this.nodes.filter((x) => x.proc?.running)) {
          const info = await n.call('CLUSTER', 'INFO');
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 200, what: 'the cluster to be ok on every node' },
    );
  }

  // Move one slot (that of key) to master `to`, the way redis-cli
  // --cluster reshard does, key by key with MIGRATE. onStep() runs
  // between batches (the test publishes meanwhile).
  async moveSlot(key, to, { onStep = async () => {} } = {}) {
    const slot = await this.nodes[0].call('CLUSTER', 'KEYSLOT', key);
    const from = await this.masterOf(key);
    if (from === to) throw new Error('the slot is there already');
    const fromId = await from.call('CLUSTER', 'MYID');
    const toId = await to.call('CLUSTER', 'MYID');
    await to.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
    await from.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
    for (;;) {
      await onStep();
      const keys = await from.call('CLUSTER', 'GETKEYSINSLOT', slot, 1);
      if (keys.length === 0) break;
      await from.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
    }
    for (const m of await this.masters()) await m.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    await this.waitHealthy();
  }
}

// One node of a new cluster. Its bus port is chosen free like its data
// port (--cluster-port, kept across restarts with the other args): Redis'
// default, the data port + 10000, lands in the ephemeral range, where a
// client socket of anything on the machine may hold it (a make test run
// once lost a cluster to "bind: Address already in use" there). A port
// taken between the choice and the bind is chosen again, twice at most.
async function startClusterNode(startNode, i, appendonly, nodeTimeoutMs) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNode({
        name: `redis-${i + 1}`,
        appendonly,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', String(nodeTimeoutMs), '--repl-diskless-sync-delay', '0',
          '--cluster-port', String(await freePort())],
      });
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test(String(err?.message))) throw err;
    }
  }
}

// masters (default 3) with `replicas` replicas each (default 1). Each
// node is started by startNode({name, args}) (default: a harness Redis,
// torn down at cleanup), which answers an object with port, url, proc
// (.running), call(...) and client(): the bench (tests/bench) passes its
// own. One master without replicas is made by giving it every slot
// (redis-cli --cluster create asks for three masters at least).
// appendonly: every node keeps an append-only file (see Redis), so that
// stop() and start() bring the data back.
export async function startCluster({ masters = 3, replicas = 1, nodeTimeoutMs = 1000, appendonly = false, startNode = startRedis } = {}) {
  const nodes = [];
  for (let i = 0; i < masters * (1 + replicas); i++) nodes.push(await startClusterNode(startNode, i, appendonly, nodeTimeoutMs));
  if (masters === 1 && replicas === 0) {
    await nodes[0].call('CLUSTER', 'ADDSLOTSRANGE', 0, 16383);
  } else {
    await cli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(replicas), '--cluster-yes']);
  }
  const cluster = new Cluster(nodes);
  await cluster.waitHealthy();
  // A replica that never synced cannot take over: wait for every link.
  await waitUntil(
    async () => {
      let up = 0;
      for (const n of nodes) if (/master_link_status:up/.test(await n.call('INFO', 'replication'))) up++;
      return up === masters * replicas;
    },
    { timeoutMs: 30000, intervalMs: 200, what: 'every replica to sync with its master' },
  );
  return cluster;
}
