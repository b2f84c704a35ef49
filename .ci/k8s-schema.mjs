// k8s-schema.mjs: the offline schema check of docker/k8s/*.yaml, run by
// .ci/lint-deploy (so by make test). No cluster, no network.
//
// The schemas: the npm package kubernetes-models ships the Kubernetes
// OpenAPI definitions compiled into Ajv validators (one per kind), and
// @kubernetes-models/keda does the same for KEDA's CRDs (ScaledObject,
// TriggerAuthentication), @kubernetes-models/prometheus-operator for the
// PodMonitor of podmonitor.yaml. They check types, required fields, enums and
// formats (quantities, ports). Like the API server, they let unknown fields
// through, which is how a misspelt or misplaced field goes unnoticed; so,
// like `kubectl --validate=strict`, every field a validator never looked
// at is reported as unknown (each object is wrapped in a Proxy that records
// the properties the validator reads; maps such as labels are read whole).
// Before the real files, the checker proves on a built-in Deployment that
// it accepts a good one and rejects an unknown field and a wrong type.
//
// Kustomization (kustomize's own file, no API kind) is checked by hand:
// known keys, listed files exist, every manifest is listed or named in a
// "# - file.yaml" comment as opt-in.
//
// Checks across files and the code:
//   - every WH_* variable in a ConfigMap, Secret or container env is one
//     the programs read (a typo would be ignored silently at run time);
//   - the dispatcher's terminationGracePeriodSeconds exceeds WH_DRAIN_MS
//     plus the ack flush and a margin (DRAIN_MARGIN_S);
//   - every httpGet probe path is a GET route of api/module.c.
//
// Usage: node .ci/k8s-schema.mjs [files...] (default docker/k8s/*.yaml).
// Exit 0 when all is valid, 1 with one line per problem, 2 if the checker
// cannot run.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'tests', 'e2e', 'package.json'));
// The dispatcher waits up to 1 s for its last acks after the drain.
const DRAIN_MARGIN_S = 5;

let YAML;
let promOperator;
try {
  YAML = require('yaml');
  require('kubernetes-models/v1');
  require('@kubernetes-models/keda/keda.sh/v1alpha1');
  // ESM only (no "require" export): imported by its path.
  promOperator = await import(pathToFileURL(path.join(ROOT, 'tests', 'e2e', 'node_modules', '@kubernetes-models',
    'prometheus-operator', 'monitoring.coreos.com', 'v1', 'index.js')).href);
} catch (err) {
  console.error(`k8s-schema: cannot load the schemas (${err.message}); run npm ci in tests/e2e`);
  process.exit(2);
}

// The model class for apiVersion/kind, or null.
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return null;
  let mod;
  try {
    if (apiVersion === 'keda.sh/v1alpha1') mod = require('@kubernetes-models/keda/keda.sh/v1alpha1');
    else if (apiVersion === 'monitoring.coreos.com/v1') mod = promOperator;
    else if (/^(v1|[a-z0-9.]+\/v[0-9a-z]+)$/.test(apiVersion)) mod = require(`kubernetes-models/${apiVersion}`);
  } catch {
    return null;
  }
  const M = mod?.[kind];
  return typeof M === 'function' && M.kind === kind ? M : null;
}

// Schema errors plus the fields the schema does not know, as strings.
export function strictErrors(Model, doc) {
  const read = new WeakMap();
  const wrap = (o) => {
    if (o === null || typeof o !== 'object') return o;
    if (!read.has(o)) read.set(o, new Set());
    return new Proxy(o, {
      get(target, key, receiver) {
        if (typeof key === 'string') read.get(target).add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
    });
  };
  const model = new Model(doc);
  const errors = [];
  try {
    model.validate.call(wrap(model));
  } catch (err) {
    errors.push(err.message.replace(/\bdata\//g, '/'));
  }
  const walk = (o, at) => {
    if (o === null || typeof o !== 'object') return;
    if (Array.isArray(o)) {
      o.forEach((v, i) => walk(v, `${at}/${i}`));
      return;
    }
    const seen = read.get(o);
    for (const k of Object.keys(o)) {
      if (!seen || !seen.has(k)) errors.push(`${at}/${k}: unknown field`);
      else walk(o[k], `${at}/${k}`);
    }
  };
  walk(model, '');
  return errors;
}

// The checker must itself be able to fail.
function selfTest() {
  const { Deployment } = require('kubernetes-models/apps/v1');
  const good = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', labels: { a: 'b' } },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: {
        metadata: { labels: { a: 'b' } },
        spec: { containers: [{ name: 'c', image: 'i', livenessProbe: { exec: { command: ['true'] } } }] },
      },
    },
  };
  const typo = structuredClone(good);
  typo.spec.template.spec.containers[0].livenessProbe.execc = typo.spec.template.spec.containers[0].livenessProbe.exec;
  const type = structuredClone(good);
  type.spec.replicas = 'two';
  const ok = strictErrors(Deployment, good).length === 0 &&
    strictErrors(Deployment, typo).some((e) => e.includes('/livenessProbe/execc: unknown field')) &&
    strictErrors(Deployment, type).some((e) => e.includes('/spec/replicas must be integer'));
  if (!ok) {
    console.error('k8s-schema: self-test failed: the checker no longer tells a good Deployment from a bad one');
    process.exit(2);
  }
}

// Every WH_* name the programs read (string literals in the C sources).
function knownVariables() {
  const names = new Set();
  for (const dir of ['common', 'api', 'dispatcher']) {
    for (const f of fs.readdirSync(path.join(ROOT, dir))) {
      if (!f.endsWith('.c')) continue;
      const src = fs.readFileSync(path.join(ROOT, dir, f), 'utf8');
      for (const m of src.matchAll(/"(WH_[A-Z0-9_]+)"/g)) names.add(m[1]);
    }
  }
  return names;
}

function getRoutes() {
  const src = fs.readFileSync(path.join(ROOT, 'api', 'module.c'), 'utf8');
  return new Set([...src.matchAll(/\{\s*HTTP_METHOD_GET,\s*"([^"]+)"/g)].map((m) => m[1]));
}

const KUSTOMIZATION_KEYS = new Set(['apiVersion', 'kind', 'resources', 'images']);
const IMAGE_KEYS = new Set(['name', 'newName', 'newTag', 'digest']);

function checkKustomization(doc, file, text, manifests, problems) {
  const dir = path.dirname(file);
  for (const k of Object.keys(doc)) {
    if (!KUSTOMIZATION_KEYS.has(k)) problems.push(`${file}: Kustomization: unknown or unchecked field ${k}`);
  }
  if (doc.apiVersion !== 'kustomize.config.k8s.io/v1beta1') problems.push(`${file}: Kustomization: apiVersion`);
  const listed = new Set();
  if (!Array.isArray(doc.resources)) problems.push(`${file}: Kustomization: resources must be a list`);
  for (const r of doc.resources || []) {
    if (typeof r !== 'string' || !fs.existsSync(path.join(dir, r))) problems.push(`${file}: resource ${r} not found`);
    listed.add(r);
  }
  for (const img of doc.images || []) {
    for (const k of Object.keys(img)) {
      if (!IMAGE_KEYS.has(k) || typeof img[k] !== 'string') problems.push(`${file}: images: bad field ${k}`);
    }
  }
  const optional = new Set([...text.matchAll(/^\s*#\s*-\s*([\w.-]+\.ya?ml)\s*$/gm)].map((m) => m[1]));
  for (const m of manifests) {
    const base = path.basename(m);
    if (path.dirname(m) === dir && base !== path.basename(file) && !listed.has(base) && !optional.has(base)) {
      problems.push(`${file}: ${base} is neither in resources nor named as opt-in ("# - ${base}")`);
    }
  }
}

function containersOf(doc) {
  const spec = doc.spec?.template?.spec;
  return spec ? [...(spec.initContainers || []), ...(spec.containers || [])] : [];
}

function main() {
  selfTest();
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = path.join(ROOT, 'docker', 'k8s');
    files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(dir, f));
  }
  const problems = [];
  const docs = [];
  for (const file of files) {
    const rel = path.relative(ROOT, path.resolve(file));
    const text = fs.readFileSync(file, 'utf8');
    let parsed;
    try {
      parsed = YAML.parseAllDocuments(text).map((d) => {
        if (d.errors.length) throw d.errors[0];
        return d.toJS();
      });
    } catch (err) {
      problems.push(`${rel}: YAML: ${err.message}`);
      continue;
    }
    parsed.forEach((doc, i) => {
      if (doc === null) return;
      const where = `${rel}[${i}] ${doc?.kind || '?'} ${doc?.metadata?.name || ''}`.trim();
      if (doc?.kind === 'Kustomization') {
        checkKustomization(doc, file, text, files, problems);
        return;
      }
      const Model = modelFor(doc?.apiVersion, doc?.kind);
      if (!Model) {
        problems.push(`${where}: no schema for apiVersion ${doc?.apiVersion} kind ${doc?.kind}`);
        return;
      }
      for (const e of strictErrors(Model, doc)) problems.push(`${where}: ${e}`);
      docs.push({ doc, where });
    });
  }

  const known = knownVariables();
  const routes = getRoutes();
  let drainMs = 25000;
  for (const { doc, where } of docs) {
    if (doc.kind === 'ConfigMap' || doc.kind === 'Secret') {
      for (const k of Object.keys({ ...doc.data, ...doc.stringData })) {
        if (k.startsWith('WH_') && !known.has(k)) problems.push(`${where}: ${k} is not a variable the programs read`);
      }
      if (doc.data?.WH_DRAIN_MS) drainMs = Number(doc.data.WH_DRAIN_MS);
    }
    for (const c of containersOf(doc)) {
      for (const e of c.env || []) {
        if (e.name?.startsWith('WH_') && !known.has(e.name)) problems.push(`${where}: env ${e.name} is not a variable the programs read`);
      }
      for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        if (p?.httpGet && !routes.has(p.httpGet.path)) problems.push(`${where}: probe path ${p.httpGet.path} is no GET route of api/module.c`);
      }
    }
  }
  for (const { doc, where } of docs) {
    if (doc.kind !== 'Deployment' || !containersOf(doc).some((c) => /dispatcher/.test(c.image || ''))) continue;
    const grace = doc.spec.template.spec.terminationGracePeriodSeconds ?? 30;
    if (!(grace >= drainMs / 1000 + DRAIN_MARGIN_S)) {
      problems.push(`${where}: terminationGracePeriodSeconds ${grace} must be at least WH_DRAIN_MS/1000 + ${DRAIN_MARGIN_S} = ${drainMs / 1000 + DRAIN_MARGIN_S}`);
    }
  }

  for (const p of problems) console.error(`k8s-schema: ${p}`);
  if (problems.length) process.exit(1);
  const kinds = [...new Set(docs.map((d) => d.doc.kind))].sort().join(', ');
  console.log(`k8s-schema: ${docs.length} objects in ${files.length} files valid (${kinds}; strict, self-test passed)`);
}

main();
