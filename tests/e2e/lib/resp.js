// A tiny RESP2 client over net.Socket, enough for the e2e tests: publish
// straight into the stream (XADD, as other Streem services do) and inspect
// keys. Written here rather than pulled from npm so that the tests depend on
// nothing but Node and the `standardwebhooks` package.
//
// Commands are sent as arrays of bulk strings; replies are parsed into
//   simple string -> string, error -> rejected RespError, integer -> number,
//   bulk string -> string (UTF-8) or null, array -> array (or null).
// Replies are matched to commands in order, so pipelining just works.

import net from 'node:net';

export class RespError extends Error {
  constructor(message, command) {
    super(message);
    this.name = 'RespError';
    this.command = command;
  }
}

// Encode one command as a RESP array of bulk strings. Buffers go out as they
// are, everything else as its UTF-8 string form.
export function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const buf = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${buf.length}\r\n`), buf, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

// Marker for "need more bytes"; a distinct object so that null (nil) stays a
// valid parsed value.
const INCOMPLETE = Symbol('incomplete');

// Parse one reply starting at `pos`. Returns {value, pos} or INCOMPLETE.
// Errors are returned as RespError values (not thrown) so that an error
// nested in an array (EXEC, pipelines) does not break the framing.
export function parseReply(buf, pos = 0) {
  if (pos >= buf.length) return INCOMPLETE;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return INCOMPLETE;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { value: line, pos: next };
    case '-':
      return { value: new RespError(line), pos: next };
    case ':':
      return { value: Number(line), pos: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, pos: next };
      if (buf.length < next + len + 2) return INCOMPLETE;
      return { value: buf.toString('utf8', next, next + len), pos: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, pos: next };
      const items = [];
      let p = next;
      for (let i = 0; i < count; i++) {
        const r = parseReply(buf, p);
        if (r === INCOMPLETE) return INCOMPLETE;
        items.push(r.value);
        p = r.pos;
      }
      return { value: items, pos: p };
    }
    default:
      throw new Error(`RESP protocol error: unexpected type byte ${JSON.stringify(type)}`);
  }
}

export class RespClient {
  constructor(socket, { commandTimeoutMs = 5000 } = {}) {
    this.socket = socket;
    this.commandTimeoutMs = commandTimeoutMs;
    this.pending = []; // {resolve, reject, timer, args}, in send order
    this.buffer = Buffer.alloc(0);
    this.closed = false;
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', (err) => this.#failAll(err));
    socket.on('close', () => {
      this.closed = true;
      this.#failAll(new Error('redis connection closed'));
    });
  }

  // Send one command, e.g. call('XADD', key, '*', 'f', 'v'). Bounded by a
  // timeout: a reply that never comes rejects instead of hanging a test (and
  // the connection is dropped, since later replies would be out of step).
  call(...args) {
    if (args.length === 1 && Array.isArray(args[0])) args = args[0];
    if (this.closed) return Promise.reject(new Error('redis connection closed'));
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, args, timer: null };
      entry.timer = setTimeout(() => {
        this.socket.destroy();
        this.#failAll(new Error(`redis command timed out after ${this.commandTimeoutMs} ms: ${args[0]}`));
      }, this.commandTimeoutMs);
      this.pending.push(entry);
      this.socket.write(encodeCommand(args));
    });
  }

  close() {
    this.closed = true;
    this.socket.destroy();
    this.#failAll(new Error('redis connection closed'));
  }

  #onData(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let r;
      try {
        r = parseReply(this.buffer, pos);
      } catch (err) {
        this.socket.destroy();
        this.#failAll(err);
        return;
      }
      if (r === INCOMPLETE) break;
      pos = r.pos;
      this.#settle(r.value);
    }
    this.buffer = this.buffer.subarray(pos);
  }

  #settle(value) {
    const entry = this.pending.shift();
    if (!entry) return; // unsolicited reply; RESP2 without pub/sub has none
    clearTimeout(entry.timer);
    if (value instanceof RespError) {
      value.command = entry.args;
      entry.reject(value);
    } else {
      entry.resolve(value);
    }
  }

  #failAll(err) {
    const pending = this.pending;
    this.pending = [];
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
  }
}

// Connect to host:port; rejects on refusal or after `connectTimeoutMs`.
export function connect({ host = '127.0.0.1', port, connectTimeoutMs = 2000, commandTimeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis connect to ${host}:${port} timed out`));
    }, connectTimeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new RespClient(socket, { commandTimeoutMs }));
    });
  });
}

// Connect, run one command, close. Handy for polling (PING) and one-offs.
export async function once(port, ...args) {
  const client = await connect({ port });
  try {
    return await client.call(...args);
  } finally {
    client.close();
  }
}

// ['f1', 'v1', 'f2', 'v2'] -> {f1: 'v1', f2: 'v2'} (HGETALL, stream entries,
// XINFO replies).
export function pairsToObject(list) {
  const out = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

// XRANGE reply -> [{id, fields: {...}}].
export function streamEntries(reply) {
  return (reply || []).map(([id, fields]) => ({ id, fields: pairsToObject(fields || []) }));
}
