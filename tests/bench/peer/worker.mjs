// The peer: the delivery worker a team would otherwise build in Node — a
// BullMQ worker (jobs in Redis) with undici for HTTP and the official
// `standardwebhooks` signer, as many jobs at once as our dispatcher has
// transfers in flight (PEER_CONCURRENCY) — doing the same job as our
// dispatcher: the same body shape (Streem's envelope around the raw JSON
// payload, sent_at stamped when the attempt starts), Streem's signature
// (HMAC-SHA256 hex over "Streem-Sent-At=...;" + body) and the Standard
// Webhooks headers, POSTed to the same nginx; non-2xx throws, so BullMQ
// retries with backoff as ours does.
//
//   node peer/worker.mjs   (env: PEER_REDIS_PORT, PEER_QUEUE, PEER_URL,
//                           PEER_SECRET, PEER_JOBS, PEER_CONCURRENCY)
//
// Prints one JSON line when PEER_JOBS jobs have completed:
//   {"completed": N, "ms": <first job started -> last completed>}
import crypto from 'node:crypto';
import { Worker } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';

const env = process.env;
const target = env.PEER_URL;
const secret = env.PEER_SECRET;
const jobs = Number(env.PEER_JOBS);
const webhook = new Webhook(`whsec_${Buffer.from(secret, 'utf8').toString('base64')}`);
const json = JSON.stringify;

async function deliver(job) {
  const e = job.data;
  const sentAt = new Date();
  const sentAtText = sentAt.toISOString();
  // The payload is JSON text delivered byte for byte, as ours does.
  const body = `{"event":{"event_sid":${json(e.event_sid)},"event_type":${json(e.event_type)},` +
    `"company_sid":${json(e.company_sid)},"created_at":${json(new Date(e.created_at).toISOString())},` +
    `"payload":${e.payload}},"sent_at":${json(sentAtText)}}`;
  const streem = crypto.createHmac('sha256', secret).update(`Streem-Sent-At=${sentAtText};`).update(body).digest('hex');
  const res = await request(target, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'bench-peer/1.0',
      'streem-sent-at': sentAtText,
      'streem-signature-headers': 'Streem-Sent-At',
      'streem-signature': streem,
      'webhook-id': e.event_sid,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': webhook.sign(e.event_sid, sentAt, body),
    },
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  await res.body.dump();
  if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`HTTP ${res.statusCode}`);
}

let first = 0;
let completed = 0;
const worker = new Worker(env.PEER_QUEUE, deliver, {
  connection: { host: '127.0.0.1', port: Number(env.PEER_REDIS_PORT) },
  concurrency: Number(env.PEER_CONCURRENCY),
});
worker.on('active', () => { if (!first) first = performance.now(); });
worker.on('completed', async () => {
  if (++completed === jobs) {
    process.stdout.write(`${json({ completed, ms: performance.now() - first })}\n`);
    await worker.close();
    process.exit(0);
  }
});
worker.on('failed', (job, err) => process.stderr.write(`peer: job failed: ${err.message}\n`));
