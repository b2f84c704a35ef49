// Running wrk and reading its summary: requests/s, p50/p99 latency (from
// --latency), and how many answers were not 2xx/3xx or failed. A run with
// error answers is refused (a rate of error answers is no figure); a few
// socket errors (a connection cut at the very end) are tolerated.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './procs.mjs';

const WRK_DIR = path.join(ROOT, 'tests', 'bench', 'wrk');

function toMs(value, unit) {
  const v = Number(value);
  return unit === 'us' ? v / 1000 : unit === 'ms' ? v : unit === 's' ? v * 1000 : v * 60000;
}

export function parseWrk(text) {
  const num = (re) => Number((text.match(re) || [0, 0])[1]);
  const pct = (p) => {
    const m = text.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm'));
    return m ? toMs(m[1], m[2]) : null;
  };
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    p50: pct(50),
    p99: pct(99),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

// wrk -t1 -cC -dDs --latency -s wrk/SCRIPT URL, with env for the script.
export function wrk({ url, script, seconds, connections, env = {}, threads = 1 }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s',
    '-s', path.join(WRK_DIR, script), url];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { env: { ...process.env, ...env }, timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      const r = parseWrk(stdout);
      if (!r.rps || r.non2xx > 0 || r.socketErrors > r.requests / 1000) {
        return reject(new Error(`wrk against ${url}: ${r.non2xx} non-2xx answers, ${r.socketErrors} socket errors\n${stdout}`));
      }
      resolve(r);
    });
  });
}
