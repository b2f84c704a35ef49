// TLS deliveries: one dispatcher draining a backlog into nginx over TLS,
// once plainly and once to a server that requires a client certificate
// (the webhook's tls_client_certificate), same run, same nginx build.
// Connection reuse keeps the handshake (and the client certificate) off
// the per-delivery cost, so the two rates should be close.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG } from '../lib/config.mjs';
import { Proc, freePort, waitFor } from '../lib/procs.mjs';
import { createWebhook, startApi } from '../lib/stack.mjs';
import { drain } from './delivery.mjs';

// A CA, a server certificate for localhost and a client one, made here.
function pki(dir) {
  const ssl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench-ca');
  for (const [name, ext] of [['server', 'subjectAltName=DNS:localhost'], ['client', 'extendedKeyUsage=clientAuth']]) {
    fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
    ssl('req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1',
      '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  }
  const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
  return { ca: path.join(dir, 'ca.pem'), clientCert: read('client.pem'), clientKey: read('client.key') };
}

// nginx with two TLS servers answering 204: one plain, one requiring a
// client certificate from the CA.
async function startTlsNginx(dir) {
  const plain = await freePort();
  const mutual = await freePort();
  const conf = path.join(dir, 'nginx-tls.conf');
  const tls = `ssl_certificate ${dir}/server.pem; ssl_certificate_key ${dir}/server.key;`;
  fs.writeFileSync(conf, `worker_processes 1; daemon off; pid ${dir}/nginx-tls.pid; error_log ${dir}/nginx-tls.err error;
events { worker_connections 8192; }
http {
  access_log off; client_body_buffer_size 16k; client_body_temp_path ${dir};
  server { listen 127.0.0.1:${plain} ssl; ${tls} keepalive_requests 1000000; keepalive_timeout 120s; location / { return 204; } }
  server { listen 127.0.0.1:${mutual} ssl; ${tls} ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on;
    keepalive_requests 1000000; keepalive_timeout 120s; location / { return 204; } }
}\n`);
  const proc = new Proc('nginx-tls', 'nginx', ['-c', conf, '-p', dir]);
  await waitFor(() => { proc.check(); return fs.existsSync(`${dir}/nginx-tls.pid`); }, { what: 'nginx (TLS)' });
  return { proc, plain, mutual };
}

export async function egress({ redis, tmp }) {
  const dir = fs.mkdtempSync(path.join(tmp, 'tls-'));
  const p = pki(dir);
  const nginx = await startTlsNginx(dir);
  const api = await startApi(redis.url, { workers: 1 });
  await createWebhook(api, 'CO_tls', `https://localhost:${nginx.plain}/t`);
  await createWebhook(api, 'CO_mtls', `https://localhost:${nginx.mutual}/m`,
    { tls_client_certificate: { certificate_pem: p.clientCert, private_key_pem: p.clientKey } });
  await api.proc.stop();
  const env = { WH_TLS_CA_FILE: p.ca };
  const out = { backlog: CONFIG.backlog, runs: [] };
  try {
    for (let i = 0; i < CONFIG.repeat; i++) {
      out.runs.push({
        tls: await drain(redis, { dispatchers: 1, company: 'CO_tls', events: CONFIG.backlog, fanout: 1, env }),
        mtls: await drain(redis, { dispatchers: 1, company: 'CO_mtls', events: CONFIG.backlog, fanout: 1, env }),
      });
      process.stderr.write(`bench: tls repetition ${i + 1}/${CONFIG.repeat} done\n`);
    }
  } finally {
    await nginx.proc.stop();
  }
  return out;
}
