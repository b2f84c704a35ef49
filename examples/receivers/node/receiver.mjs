// A webhook receiver that verifies both signatures of a Streem delivery:
// Streem's own scheme with node:crypto, Standard Webhooks with the official
// `standardwebhooks` package (npm ci). Run:
//
//   SHARED_SECRET=... STANDARD_WEBHOOKS_SECRET=whsec_... PORT=9999 node receiver.mjs
//
// STREEM_TOLERANCE_MS (default 500) bounds |now - Streem-Sent-At|. It answers
// 204 when both signatures verify and 401 otherwise, and prints one line per
// request: "accepted|refused streem=<result> standard=<result>".
import crypto from 'node:crypto';
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const sharedSecret = process.env.SHARED_SECRET;
const standardSecret = process.env.STANDARD_WEBHOOKS_SECRET;
if (!sharedSecret || !standardSecret) {
  console.error('set SHARED_SECRET and STANDARD_WEBHOOKS_SECRET (GET /v1/webhooks/{sid}/signing-keys)');
  process.exit(2);
}
const port = Number(process.env.PORT || 9999);
const toleranceMs = Number(process.env.STREEM_TOLERANCE_MS || 500);
const MAX_BODY = 1 << 20; // Streem's bodies are far smaller; refuse anything bigger unread
const standard = new Webhook(standardSecret);

// Constant-time comparison of two strings (unequal lengths are unequal).
function same(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// Streem's scheme: HMAC-SHA256 (hex) over "Name=Value;" for each header
// listed in Streem-Signature-Headers, in order, then the raw body.
function verifyStreem(headers, body) {
  const sentAt = headers['streem-sent-at'];
  const list = headers['streem-signature-headers'];
  const given = headers['streem-signature'];
  if (!sentAt || !list || !given) return 'missing-header';
  const names = list.split(':');
  // The first signed header must be the time, or a replay could not be told apart.
  if (names[0] !== 'Streem-Sent-At') return 'bad-header-list';
  const sent = Date.parse(sentAt);
  if (Number.isNaN(sent)) return 'bad-timestamp';
  if (Math.abs(Date.now() - sent) > toleranceMs) return 'stale';
  const mac = crypto.createHmac('sha256', Buffer.from(sharedSecret, 'utf8'));
  for (const name of names) {
    const value = headers[name.toLowerCase()];
    if (value === undefined) return 'missing-header';
    mac.update(`${name}=${value};`, 'utf8');
  }
  const expected = mac.update(body).digest('hex');
  // One signature per active signing key, comma separated (key rotation).
  return given.split(',').some((s) => same(s.trim(), expected)) ? 'ok' : 'bad-signature';
}

// Standard Webhooks through the official package; its errors say which check failed.
function verifyStandard(headers, body) {
  try {
    standard.verify(body, headers);
    return 'ok';
  } catch (err) {
    if (/Missing required headers/.test(err.message)) return 'missing-header';
    if (/Invalid Signature Headers/.test(err.message)) return 'bad-timestamp';
    if (/timestamp too (old|new)/.test(err.message)) return 'stale';
    return 'bad-signature';
  }
}

// Both must verify: a real delivery always carries both, made with one key,
// and each covers something the other does not (Streem's the signed custom
// headers, Standard Webhooks the webhook-id a receiver dedupes on).
function handle(req, res, body) {
  const streem = verifyStreem(req.headers, body);
  const std = verifyStandard(req.headers, body);
  const ok = streem === 'ok' && std === 'ok';
  console.log(`${ok ? 'accepted' : 'refused'} streem=${streem} standard=${std}`);
  // Your work goes here when ok: dedupe on webhook-id (deliveries are at least once).
  res.writeHead(ok ? 204 : 401).end();
}

// The body is read whole (the signatures cover its exact bytes), at most MAX_BODY.
http.createServer((req, res) => {
  const refuseLarge = () => {
    console.log('refused too-large');
    res.writeHead(413, { connection: 'close' }).end();
  };
  if (Number(req.headers['content-length'] || 0) > MAX_BODY) return refuseLarge();
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => (size > MAX_BODY ? refuseLarge() : handle(req, res, Buffer.concat(chunks))));
}).listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
