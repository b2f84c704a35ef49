// Loading Redis fast: a million XADDs (or a hundred thousand ZADDs) sent as
// a raw RESP pipeline on one connection, a window of commands in flight,
// replies only counted (and checked for errors). Much faster than one
// promise per command, and it needs no Redis client from npm.
import net from 'node:net';
import { encodeCommand, parseReply, RespError } from '../../e2e/lib/resp.js';

export { encodeCommand };

// Send `count` commands, the i-th being make(i) (a Buffer from
// encodeCommand; the same Buffer may be returned every time). Resolves
// when every reply is in; rejects on the first error reply.
export function pipeline(port, count, make, { window = 4000, chunk = 500 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host: '127.0.0.1', port });
    let sent = 0, replied = 0, buf = Buffer.alloc(0), failed = false;
    const fail = (err) => {
      if (failed) return;
      failed = true;
      sock.destroy();
      reject(err);
    };
    const pump = () => {
      while (sent < count && sent - replied < window) {
        const n = Math.min(chunk, count - sent);
        const parts = new Array(n);
        for (let j = 0; j < n; j++) parts[j] = make(sent + j);
        sent += n;
        if (!sock.write(Buffer.concat(parts))) return; // wait for 'drain'
      }
    };
    sock.on('connect', pump);
    sock.on('drain', pump);
    sock.on('error', fail);
    sock.on('data', (data) => {
      buf = buf.length ? Buffer.concat([buf, data]) : data;
      let pos = 0;
      for (;;) {
        const r = parseReply(buf, pos);
        if (typeof r === 'symbol') break; // incomplete
        if (r.value instanceof RespError) return fail(new Error(`redis: ${r.value.message}`));
        pos = r.pos;
        replied++;
      }
      buf = buf.subarray(pos);
      if (replied === count) {
        sock.end();
        resolve(count);
      } else {
        pump();
      }
    });
    if (count === 0) {
      sock.end();
      resolve(0);
    }
  });
}
