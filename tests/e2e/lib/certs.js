// Certificates for the Redis-over-TLS tests, made with openssl at test
// time in a temporary directory: a CA ("ca"), and certificates it (or
// another CA) signs. Keys are P-256 (fast to make).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class TestPki {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-pki-'));
    this.ca('ca');
  }

  file(name) {
    return path.join(this.dir, name);
  }

  #openssl(...args) {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  // A self-signed CA: name.crt, name.key.
  ca(name) {
    this.#openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', '-subj', `/CN=${name}`);
    return this;
  }

  // A certificate signed by ca for san ("DNS:x,IP:y"). days 0: expired a
  // second later (its notAfter is its notBefore).
  cert(name, { ca = 'ca', san = 'DNS:localhost,IP:127.0.0.1', days = 30 } = {}) {
    this.#openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    fs.writeFileSync(this.file(`${name}.ext`), `subjectAltName=${san}\n`);
    this.#openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
      '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days), '-extfile', `${name}.ext`);
    return this;
  }

  // startRedis({tls}) for a server showing cert (clients checked against
  // "ca" when authClients is yes).
  serverTls(cert, authClients = 'yes') {
    return { cert: this.file(`${cert}.crt`), key: this.file(`${cert}.key`), ca: this.file('ca.crt'), authClients };
  }

  // What the programs need to trust "ca" and show certificate "client".
  clientEnv() {
    return {
      WH_REDIS_TLS_CA_FILE: this.file('ca.crt'),
      WH_REDIS_TLS_CERT_FILE: this.file('client.crt'),
      WH_REDIS_TLS_KEY_FILE: this.file('client.key'),
    };
  }

  dispose() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
