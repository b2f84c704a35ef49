// The delivery request as a dispatcher really sends it: captured once per
// run from a real delivery to a small server of ours, and written to a
// file (header lines, an empty line, the body) that the bare libcurl
// client (barecurl.c) and wrk (wrk/delivery.lua) both send to nginx, so
// every ceiling carries the same bytes as the deliveries it is compared
// with, whatever headers the dispatcher adds.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BENCH_BUILD, Proc, waitFor } from './procs.mjs';

// A server answering 204 that hands each request it gets to next().
export function captureServer() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      got.push({ method: req.method, headers, body: Buffer.concat(chunks) });
      res.statusCode = 204;
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: (p) => `http://127.0.0.1:${server.address().port}${p}`,
    next: (what) => waitFor(() => got.shift(), { ms: 15000, what }),
    close: () => server.close(),
  })));
}

// The captured request as the file barecurl.c and wrk/delivery.lua read.
export function writeRequest(file, req) {
  const lines = req.headers.map(([k, v]) => `${k}: ${v}\n`).join('');
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`${lines}\n`), req.body]));
  return file;
}

// What differs between two requests in shape: header names (any case),
// each value's length (stamps and signatures differ, their lengths not),
// the method, the body's length. null when they are alike.
export function requestDiff(a, b) {
  const shape = (r) => r.headers.map(([k, v]) => `${k.toLowerCase()}:${v.length}`).sort().join(' ');
  if (a.method !== b.method) return `method ${a.method} vs ${b.method}`;
  if (a.body.length !== b.body.length) return `body of ${a.body.length} vs ${b.body.length} bytes`;
  if (shape(a) !== shape(b)) return `headers ${shape(a)} vs ${shape(b)}`;
  return null;
}

// build/bench/barecurl: `count` POSTs of the request file to url with
// `concurrency` transfers in flight. Times from spawn to exit (as a
// dispatcher's drain is timed from spawn to the work done); its own CPU
// time per request from the line it prints.
export async function bareCurl({ url, concurrency, count, file }) {
  const t0 = Date.now();
  const p = new Proc('barecurl', path.join(BENCH_BUILD, 'barecurl'), [url, String(concurrency), String(count), file]);
  const exit = await p.exited;
  const t1 = Date.now();
  await p.stop();
  const line = /\{"requests".*\}/.exec(p.out);
  if (exit.code !== 0 || !line) throw new Error(`barecurl exited ${JSON.stringify(exit)}: ${p.out.slice(-300)} ${p.err.slice(-500)}`);
  const r = JSON.parse(line[0]);
  const seconds = (t1 - t0) / 1000;
  return { requests: r.requests, seconds, rate: r.requests / seconds, innerRate: r.requests / r.seconds,
    cpuUs: (r.cpu_seconds * 1e6) / r.requests, at: [t0, t1] };
}
