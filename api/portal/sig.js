// sig.js: the signature debugger's arithmetic, in the browser (WebCrypto):
// what string each scheme signs for a pasted request, which of the
// endpoint's keys matches, and when none does, what differs.
// Streem: for each name of Streem-Signature-Headers (":"-separated), in
// order, "Name=Value;", then the raw body; HMAC-SHA256 with the UTF-8
// bytes of shared_secret, lowercase hex, any comma-separated entry.
// Standard Webhooks: "<webhook-id>.<webhook-timestamp>.<body>", HMAC-SHA256
// keyed with base64(standard_webhooks_secret after "whsec_"), "v1,<b64>".

const te = new TextEncoder();

// "Name: value" lines into [[name, value]] (first colon splits).
export function parseHeaders(text) {
  const out = [];
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return out;
}

const get = (hs, name) => hs.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

async function hmac(keyBytes, text) {
  const k = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, te.encode(text)));
}
const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const b64 = (b) => btoa(String.fromCharCode(...b));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

export function streemInput(hs, body) {
  const names = (get(hs, 'Streem-Signature-Headers') || '').split(':').filter(Boolean);
  const missing = names.filter((n) => get(hs, n) === undefined);
  return { text: names.map((n) => `${n}=${get(hs, n) ?? ''};`).join('') + body, names, missing };
}

export function standardInput(hs, body) {
  return `${get(hs, 'webhook-id') ?? ''}.${get(hs, 'webhook-timestamp') ?? ''}.${body}`;
}

async function streemSig(key, text) {
  return hex(await hmac(te.encode(key.shared_secret), text));
}

async function standardSig(key, text) {
  return `v1,${b64(await hmac(unb64(key.standard_webhooks_secret.replace(/^whsec_/, '')), text))}`;
}

// Bodies the receiver may have altered on the way in, to say what changed.
function variants(body) {
  const v = [];
  if (/\s$/.test(body)) v.push(['a trailing newline or space was added to the body', body.replace(/\s+$/, '')]);
  if (body.includes('\r\n')) v.push(['line endings were changed to CRLF', body.replace(/\r\n/g, '\n')]);
  return v;
}

// The whole verdict for the pasted request against keys.
export async function debug(headerText, body, keys, now = Date.now()) {
  const hs = parseHeaders(headerText);
  const st = streemInput(hs, body);
  const given = (get(hs, 'Streem-Signature') || '').split(',').map((x) => x.trim()).filter(Boolean);
  const givenStd = (get(hs, 'webhook-signature') || '').split(' ').filter(Boolean);
  const stdText = standardInput(hs, body);
  const r = { streemInput: st.text, standardInput: stdText, streemKey: null, standardKey: null, notes: [] };
  for (const k of keys) {
    if (!r.streemKey && given.includes(await streemSig(k, st.text))) r.streemKey = k;
    if (!r.standardKey && k.standard_webhooks_secret && givenStd.includes(await standardSig(k, stdText))) r.standardKey = k;
  }
  const sentAt = get(hs, 'Streem-Sent-At');
  if (sentAt) r.skewMs = now - Date.parse(sentAt);
  else if (get(hs, 'webhook-timestamp')) r.skewMs = now - Number(get(hs, 'webhook-timestamp')) * 1000;
  if (!given.length) r.notes.push('No Streem-Signature header was pasted.');
  for (const n of st.missing) r.notes.push(`The signed header ${n} is missing from what was pasted.`);
  let parsed = null;
  try {
    parsed = JSON.parse(body);
  } catch {
    r.notes.push('The body is not JSON: it was changed or cut.');
  }
  if (parsed && sentAt && parsed.sent_at !== sentAt) r.notes.push(`The body's sent_at (${parsed.sent_at}) differs from Streem-Sent-At (${sentAt}).`);
  if (parsed && get(hs, 'webhook-id') && parsed.event?.event_sid !== get(hs, 'webhook-id')) r.notes.push('The body\'s event.event_sid differs from webhook-id.');
  if (!r.streemKey) {
    for (const [why, b] of variants(body)) {
      const t = streemInput(hs, b).text;
      for (const k of keys) if (given.includes(await streemSig(k, t))) r.notes.push(`It verifies once undone: ${why}.`);
    }
    if (parsed && !r.notes.some((n) => n.startsWith('It verifies'))) {
      const compact = JSON.stringify(parsed);
      if (compact !== body) {
        const t = streemInput(hs, compact).text;
        for (const k of keys) if (given.includes(await streemSig(k, t))) r.notes.push('It verifies on the compact JSON: the body was re-serialized (verify the raw bytes).');
      }
    }
  }
  return r;
}
