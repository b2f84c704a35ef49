// The timing receiver of the latency rows, run as its own process so that
// the publisher's work never delays the moment an arrival is stamped (in
// one Node process the two share an event loop, which inflated p99).
//
//   node receiver.mjs PORT        (talks to the bench over the IPC channel)
//
// The publisher puts its send time in the event_sid ("lat_<us>_<n>", from
// the monotonic clock, which every process of the machine shares), and the
// dispatcher sends the event_sid as the webhook-id header, so the arrival
// is stamped as soon as the request head is parsed, before the body.
// Messages: "collect" -> replies {lat_us: [...], count}, and starts afresh.
import http from 'node:http';

const port = Number(process.argv[2]);
let lat = [];

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const server = http.createServer((req, res) => {
  const t = nowUs();
  const id = req.headers['webhook-id'] || '';
  const m = /^lat_(\d+)_/.exec(id);
  if (m) lat.push(t - Number(m[1]));
  req.resume();
  req.on('end', () => {
    res.statusCode = 204;
    res.end();
  });
});
server.keepAliveTimeout = 120000;
server.maxConnections = 10000;
server.listen(port, '127.0.0.1', () => process.send({ ready: true }));

process.on('message', (msg) => {
  if (msg === 'collect') {
    const out = lat;
    lat = [];
    process.send({ lat_us: out, count: out.length });
  }
});
process.on('disconnect', () => process.exit(0));
