// The event every delivery row publishes: a 1 KiB JSON payload (the same
// bytes wrk/delivery.lua puts in its ceiling request).
export const PAYLOAD = `{"pad":"${'x'.repeat(1024 - 10)}"}`;
export const EVENT_TYPE = 'bench.tick';
