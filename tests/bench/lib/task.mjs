// The retry task format of wh:{0}:retry members, byte for byte as
// common/model.c (wh_task_encode, task_pack) writes it with msgpack-c, so
// that the retry storm can ZADD 100 000 due tasks straight into Redis:
//
//   map(6 or 7) {
//     "v": 1,
//     "event": map(5) { "event_sid", "company_sid", "event_type",
//                       "payload" (JSON text as a str), "created_at" },
//     "webhook_sid", "attempt" (1-based, the attempt this task makes),
//     "first_attempt_at", "due_at" (ms), ["last_error"]
//   }
//
// msgpack-c packs integers in their smallest form (msgpack_pack_int64 and
// _uint32 of a non-negative value: fixint, uint8, uint16, uint32, uint64)
// and strings as fixstr / str8 / str16 / str32; the same here.

function str(parts, s) {
  const b = Buffer.from(s, 'utf8');
  const n = b.length;
  if (n < 32) parts.push(Buffer.from([0xa0 | n]));
  else if (n < 0x100) parts.push(Buffer.from([0xd9, n]));
  else if (n < 0x10000) parts.push(Buffer.from([0xda, n >> 8, n & 0xff]));
  else {
    const h = Buffer.alloc(5);
    h[0] = 0xdb;
    h.writeUInt32BE(n, 1);
    parts.push(h);
  }
  parts.push(b);
}

function uint(parts, v) {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`not a non-negative integer: ${v}`);
  if (v < 0x80) parts.push(Buffer.from([v]));
  else if (v < 0x100) parts.push(Buffer.from([0xcc, v]));
  else if (v < 0x10000) parts.push(Buffer.from([0xcd, v >> 8, v & 0xff]));
  else if (v < 0x100000000) {
    const h = Buffer.alloc(5);
    h[0] = 0xce;
    h.writeUInt32BE(v, 1);
    parts.push(h);
  } else {
    const h = Buffer.alloc(9);
    h[0] = 0xcf;
    h.writeBigUInt64BE(BigInt(v), 1);
    parts.push(h);
  }
}

const map = (parts, n) => parts.push(Buffer.from([0x80 | n]));

export function encodeTask(t) {
  const e = t.event;
  const parts = [];
  map(parts, t.last_error != null ? 7 : 6);
  str(parts, 'v'); uint(parts, 1);
  str(parts, 'event'); map(parts, 5);
  str(parts, 'event_sid'); str(parts, e.event_sid);
  str(parts, 'company_sid'); str(parts, e.company_sid);
  str(parts, 'event_type'); str(parts, e.event_type);
  str(parts, 'payload'); str(parts, e.payload);
  str(parts, 'created_at'); uint(parts, e.created_at);
  str(parts, 'webhook_sid'); str(parts, t.webhook_sid);
  str(parts, 'attempt'); uint(parts, t.attempt);
  str(parts, 'first_attempt_at'); uint(parts, t.first_attempt_at);
  str(parts, 'due_at'); uint(parts, t.due_at);
  if (t.last_error != null) { str(parts, 'last_error'); str(parts, t.last_error); }
  return Buffer.concat(parts);
}
