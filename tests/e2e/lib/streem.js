// A validator of Streem's documented request signature ("Validating Webhook
// Requests"), written from docs/design.md and deliberately not from the C code, so
// that it checks what customers check:
//
//   Streem-Sent-At            RFC 3339 UTC time the attempt was sent; the
//                             receiver rejects it outside a small tolerance
//   Streem-Signature-Headers  "Streem-Sent-At[:Name...]": the signed headers,
//                             in order, joined by ':'
//   Streem-Signature          lowercase hex HMAC-SHA256 (key: the shared
//                             secret's UTF-8 bytes) of
//                             "Name=Value;" for each listed name + raw body;
//                             several, comma separated, during key rotation

import crypto from 'node:crypto';

export const DEFAULT_TOLERANCE_MS = 500;

// RFC 3339, UTC, milliseconds, 'Z': the exact form docs/design.md promises.
const SENT_AT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// Case-insensitive header lookup over a plain object (Node's req.headers is
// already lowercased, but callers may pass anything, e.g. fetch Headers
// converted with Object.fromEntries or hand-written test vectors).
export function headerValue(headers, name) {
  if (headers && typeof headers.get === 'function') {
    const v = headers.get(name);
    return v === null ? undefined : v;
  }
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers || {})) {
    if (k.toLowerCase() === wanted) return Array.isArray(v) ? v.join(', ') : v;
  }
  return undefined;
}

// The bytes that get signed: "Name=Value;" per [name, value] pair, then body.
export function signedInput(pairs, body) {
  const prefix = pairs.map(([name, value]) => `${name}=${value};`).join('');
  return Buffer.concat([Buffer.from(prefix, 'utf8'), toBuffer(body)]);
}

// Lowercase hex HMAC-SHA256 of the signed input with one shared secret.
export function signStreem(secret, pairs, body) {
  return crypto
    .createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(signedInput(pairs, body))
    .digest('hex');
}

function toBuffer(body) {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body);
  return Buffer.from(body ?? '', 'utf8');
}

// Timing-safe comparison of two strings; unequal lengths are simply unequal
// (the length of a hex SHA-256 is public anyway).
function safeEqual(a, b) {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

const fail = (reason) => ({ ok: false, reason });

// Validate one received request.
//   headers     received headers (any case)
//   body        raw body, Buffer or string (exactly the bytes received)
//   secrets     shared secrets (strings) the receiver knows
//   now         receiver's clock at arrival, ms since epoch (default now)
//   toleranceMs allowed |now - Streem-Sent-At| (default 500)
//   checkTime   false to skip the clock check (fixed test vectors)
// Returns {ok: true, matched} or {ok: false, reason}.
export function verifyStreem({
  headers,
  body,
  secrets,
  now = Date.now(),
  toleranceMs = DEFAULT_TOLERANCE_MS,
  checkTime = true,
}) {
  const sentAt = headerValue(headers, 'Streem-Sent-At');
  if (!sentAt) return fail('missing Streem-Sent-At');
  if (!SENT_AT_RE.test(sentAt)) return fail(`Streem-Sent-At not RFC 3339 UTC with ms: ${sentAt}`);
  const sentMs = Date.parse(sentAt);
  if (Number.isNaN(sentMs)) return fail(`Streem-Sent-At unparseable: ${sentAt}`);
  if (checkTime && Math.abs(now - sentMs) > toleranceMs) {
    return fail(`Streem-Sent-At ${sentAt} is ${now - sentMs} ms from the receiver clock (tolerance ${toleranceMs} ms)`);
  }

  const list = headerValue(headers, 'Streem-Signature-Headers');
  if (!list) return fail('missing Streem-Signature-Headers');
  const names = list.split(':');
  if (names[0] !== 'Streem-Sent-At') return fail(`Streem-Signature-Headers must start with Streem-Sent-At: ${list}`);
  const pairs = [];
  for (const name of names) {
    if (!name) return fail(`empty name in Streem-Signature-Headers: ${list}`);
    const value = headerValue(headers, name);
    if (value === undefined) return fail(`signed header ${name} not in the request`);
    pairs.push([name, value]);
  }

  const given = headerValue(headers, 'Streem-Signature');
  if (!given) return fail('missing Streem-Signature');
  const candidates = given.split(',').map((s) => s.trim()).filter(Boolean);
  if (!secrets || secrets.length === 0) return fail('no secrets to check against');

  for (const secret of secrets) {
    const expected = signStreem(secret, pairs, body);
    if (candidates.some((c) => safeEqual(c, expected))) return { ok: true, matched: secret };
  }
  return fail(`no Streem-Signature entry matches (${candidates.length} given, ${secrets.length} secrets tried)`);
}

// What each signing key exposes for the official Standard Webhooks
// libraries: "whsec_" + base64 of the shared secret's UTF-8 bytes.
export function standardWebhooksSecret(sharedSecret) {
  return 'whsec_' + Buffer.from(sharedSecret, 'utf8').toString('base64');
}
