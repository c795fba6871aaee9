/**
 * The Pulumi program (deploy/pulumi) under Pulumi's mocks: no Pulumi CLI, no engine, no provider
 * plugin, no cluster. The mocks record every resource the program registers with its inputs,
 * secret markers included; the values it hands to the chart are then rendered by the real helm
 * (test/deploy/tools.ts), so they must pass the chart's values.schema.json and its rules, every
 * Secret the rendered pods reference must be one the program created, and the gatehouse.yaml
 * the chart writes from them must pass the real `gatehouse config validate` in production mode.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { parse, parseAllDocuments } from 'yaml';
import { deployTool } from './tools.ts';
import { chartPath, existingClaimAllowed, runsSeveralInstances } from '../../deploy/pulumi/chart-rules.ts';
import { deployGatehouse } from '../../deploy/pulumi/gatehouse.ts';
import { readSettings } from '../../deploy/pulumi/settings.ts';

const root = join(import.meta.dirname, '..', '..');
type Json = Record<string, any>;
interface Registered { type: string; name: string; inputs: Json }

// Distinct markers: each must reach its Secret and nothing else.
const PG_PASSWORD = 'pg-Pa55-marker';
const REDIS_PASSWORD = 'redis-Pa55-marker';
const NATS_PASSWORD = 'nats-Pa55-marker';
const TLS_KEY = '-----BEGIN PRIVATE KEY-----\ntls-key-marker\n-----END PRIVATE KEY-----\n';
const TLS_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const CA_CERT = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n';
const PKI_KEY = `pki-${randomBytes(32).toString('base64url')}`;
const KEY_ENCRYPTION_SECRET = randomBytes(32).toString('base64url');
const MAIL_KEY = 'mail-key-marker';
const AUDIT_KEY = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'audit-x', d: 'audit-d-marker' });
const SECRET_TEXTS = [MAIL_KEY, PG_PASSWORD, REDIS_PASSWORD, NATS_PASSWORD, 'tls-key-marker', PKI_KEY, KEY_ENCRYPTION_SECRET, 'audit-d-marker'];

const SHARED = { pkiKey: PKI_KEY, keyEncryptionSecret: KEY_ENCRYPTION_SECRET, auditSigningKey: AUDIT_KEY };
/** One instance on the embedded defaults: SQLite, limits and events in process. */
const EMBEDDED: Record<string, string> = {
  ...SHARED,
  namespace: 'gatehouse-trial',
  publicUrl: 'https://trial.example.com',
  tlsCert: TLS_CERT,
  tlsKey: TLS_KEY,
};
/** Several instances on PostgreSQL + Redis + NATS, an autoscaler, a private CA. */
const SEVERAL: Record<string, string> = {
  ...SHARED,
  namespace: 'edge',
  publicUrl: 'https://gatehouse.example.com',
  replicas: '3',
  maxReplicas: '12',
  storeUrl: `postgres://gatehouse:${PG_PASSWORD}@pg.databases.svc.cluster.local:5433/gatehouse?sslmode=verify-full`,
  redisUrl: `rediss://gatehouse:${REDIS_PASSWORD}@redis.databases.svc.cluster.local:6380/2`,
  natsUrl: `tls://gatehouse:${NATS_PASSWORD}@nats.messaging.svc.cluster.local:4222`,
  tlsSecretName: 'gatehouse-example-com-tls',
  caCert: CA_CERT,
  imageDigest: `sha256:${'ab'.repeat(32)}`,
  values: JSON.stringify({
    podAntiAffinity: 'hard',
    config: { upstreams: { mail: { url: 'https://mail.apps.svc.cluster.local:8443', credentials: { headers: { 'x-api-key': '${MAIL_API_KEY}' } } } } },
  }),
  // An upstream credential the gateway injects (docs/credential-isolation.md).
  secretEnv: JSON.stringify({ MAIL_API_KEY: MAIL_KEY }),
};
const SECRET_KEYS = ['secretEnv', 'pkiKey', 'keyEncryptionSecret', 'auditSigningKey', 'storeUrl', 'redisUrl', 'natsUrl', 'tlsKey'];

let registered: Registered[] = [];
/** Secrets whose creation finished, and what had been registered when the chart was. */
let created: string[] = [];
let createdBeforeChart: string[] = [];
/** Type and name of each resource registered with retainOnDelete (seen by a transformation, as the engine gets it). */
let retained: string[] = [];

/** Runs what index.ts runs, under fresh mocks and config; resolves once every resource is registered. */
async function deploy(config: Record<string, string>): Promise<Registered[]> {
  registered = [];
  created = [];
  createdBeforeChart = [];
  retained = [];
  await pulumi.runtime.setMocks({
    async newResource(args) {
      registered.push({ type: args.type, name: args.name, inputs: args.inputs as Json });
      if (args.type === 'kubernetes:helm.sh/v4:Chart') createdBeforeChart = [...created];
      // A Secret takes a while to be created: whatever depends on it registers only after.
      if (args.type === 'kubernetes:core/v1:Secret') {
        await new Promise((resolve) => setTimeout(resolve, 20));
        created.push(args.name);
      }
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call(args) {
      return args.inputs;
    },
  }, 'gatehouse', 'test', false);
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([k, v]) => [`gatehouse:${k}`, v])),
    Object.keys(config).filter((k) => SECRET_KEYS.includes(k)).map((k) => `gatehouse:${k}`),
  );
  const deployed = deployGatehouse(readSettings(), {
    transformations: [({ type, name, opts }) => { if (opts.retainOnDelete === true) retained.push(`${type} ${name}`); return undefined; }],
  });
  const urns = [deployed.namespace.urn, ...deployed.secrets.map((s) => s.urn), deployed.chart.urn];
  await new Promise((resolve) => pulumi.all(urns).apply(resolve));
  return registered;
}

/** The refusal of `config`, and what was registered before it (must be nothing). */
async function refusal(config: Record<string, string>): Promise<{ message: string; registered: number }> {
  try {
    await deploy(config);
  } catch (error) {
    return { message: (error as Error).message, registered: registered.length };
  }
  assert.fail('the program accepted the config');
}

const isSecretInput = (v: unknown) => typeof v === 'object' && v !== null && (v as Json)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
const byType = (all: Registered[], type: string) => all.filter((r) => r.type === type);
const chartOf = (all: Registered[]) => {
  const charts = byType(all, 'kubernetes:helm.sh/v4:Chart');
  assert.equal(charts.length, 1, 'one helm.v4.Chart');
  return charts[0]!;
};
/** Secret name → key → plain text, every value checked to be a secret input. */
function secretsOf(all: Registered[]): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const s of byType(all, 'kubernetes:core/v1:Secret')) {
    const keys = new Map<string, string>();
    const data = s.inputs['stringData'] as unknown;
    if (isSecretInput(data)) {
      for (const [k, v] of Object.entries((data as Json)['value'] as Json)) keys.set(k, String(v));
    } else {
      for (const [k, v] of Object.entries(data as Json)) {
        // The CA certificate is public; every other value must arrive as a secret.
        if (k !== 'ca.crt') assert.ok(isSecretInput(v), `${s.name}.${k} is a secret output`);
        keys.set(k, isSecretInput(v) ? String((v as Json)['value']) : String(v));
      }
    }
    out.set(s.inputs['metadata'].name as string, keys);
  }
  return out;
}

let work = '';
let helmBin = '';
function helm(args: string[]): { status: number | null; out: string } {
  const env = { ...process.env, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config'), HELM_DATA_HOME: join(work, 'data') };
  const r = spawnSync(helmBin, args, { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
function valuesFile(values: Json): string {
  const file = join(work, `values-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}
/** `helm lint --strict` and `helm template` of the chart with the values the program handed it. */
function renderChart(chart: Registered): Json[] {
  const file = valuesFile(chart.inputs['values'] as Json);
  const lint = helm(['lint', '--strict', chartPath, '--namespace', chart.inputs['namespace'], '-f', file]);
  assert.equal(lint.status, 0, lint.out);
  const r = helm(['template', chart.inputs['name'], chartPath, '--namespace', chart.inputs['namespace'], '-f', file]);
  assert.equal(r.status, 0, r.out);
  return parseAllDocuments(r.out).map((d) => d.toJS() as Json | null).filter((o): o is Json => o !== null);
}

/** What runs the pods: the Deployment, or with persistence the StatefulSet (exactly one of them). */
function workload(objects: Json[]): Json {
  const found = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
  assert.equal(found.length, 1, 'one Deployment or StatefulSet');
  return found[0]!;
}

/** Every Secret (name, key) the rendered pod reads, from env and volumes. */
function secretRefs(objects: Json[]): Array<[string, string]> {
  const pod = workload(objects).spec.template.spec;
  const refs: Array<[string, string]> = [];
  for (const e of pod.containers[0].env as Json[]) {
    if (e.valueFrom?.secretKeyRef) refs.push([e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]);
  }
  for (const v of pod.volumes as Json[]) {
    if (!v.secret) continue;
    if (v.secret.items) for (const i of v.secret.items as Json[]) refs.push([v.secret.secretName, i.key]);
    else refs.push([v.secret.secretName, 'tls.crt'], [v.secret.secretName, 'tls.key']);
  }
  return refs;
}

/** `gatehouse config validate` in production on the rendered gatehouse.yaml, with the pod's environment from the program's Secrets. */
function gatehouseValidate(objects: Json[], secrets: Map<string, Map<string, string>>) {
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['gatehouse.yaml'])!;
  const file = join(work, `gatehouse-${randomBytes(4).toString('hex')}.yaml`);
  writeFileSync(file, configMap.data['gatehouse.yaml'], { mode: 0o600 });
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', NODE_ENV: 'production' };
  for (const e of workload(objects).spec.template.spec.containers[0].env as Json[]) {
    if (e.valueFrom?.secretKeyRef) env[e.name] = secrets.get(e.valueFrom.secretKeyRef.name)!.get(e.valueFrom.secretKeyRef.key)!;
    else if (typeof e.value === 'string' && e.name !== 'NODE_EXTRA_CA_CERTS') env[e.name] = e.value;
  }
  const r = spawnSync(join(root, 'node_modules', '.bin', 'node'), [join(root, 'bin', 'gatehouse.mjs'), 'config', 'validate', file], { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, text: configMap.data['gatehouse.yaml'] as string };
}

describe('Pulumi program deploy/pulumi', () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'gatehouse-pulumi-'));
    helmBin = deployTool('helm');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  describe('one instance on the embedded defaults', () => {
    let all: Registered[];
    before(async () => { all = await deploy(EMBEDDED); });

    it('creates the namespace, the shared and TLS Secrets in it, and the chart from the repository', () => {
      const [ns] = byType(all, 'kubernetes:core/v1:Namespace');
      assert.equal(ns?.inputs['metadata'].name, 'gatehouse-trial');
      const secrets = byType(all, 'kubernetes:core/v1:Secret');
      assert.deepEqual(secrets.map((s) => s.inputs['metadata'].name).sort(), ['gatehouse-secrets', 'gatehouse-tls']);
      for (const s of secrets) assert.equal(s.inputs['metadata'].namespace, 'gatehouse-trial');
      assert.equal(secrets.find((s) => s.name === 'gatehouse-tls')!.inputs['type'], 'kubernetes.io/tls');
      const chart = chartOf(all);
      assert.equal(chart.inputs['chart'], join(root, 'deploy', 'helm', 'gatehouse'));
      assert.equal(chart.inputs['namespace'], 'gatehouse-trial');
      assert.equal(chart.inputs['name'], 'gatehouse');
      assert.equal(all.length, 4, all.map((r) => `${r.type} ${r.name}`).join(', '));
    });

    it('hands the chart one replica, no Redis, no NATS and the SQLite store in the data directory', () => {
      const values = chartOf(all).inputs['values'] as Json;
      assert.equal(values['replicaCount'], 1);
      assert.deepEqual(values['autoscaling'], { enabled: false });
      assert.equal(values['redis'].host, '');
      assert.equal(values['nats'].host, '');
      assert.equal(values['store'].passwordSecret.name, '');
      assert.equal(values['config'].store.url, 'sqlite:/data/gatehouse/gatehouse.db');
      assert.deepEqual(values['secrets'], { existingSecret: 'gatehouse-secrets' });
      assert.deepEqual(values['tls'], { secretName: 'gatehouse-tls' });
      assert.deepEqual(values['persistence'], { enabled: false }, 'no persistence asked for: the emptyDir');
    });

    it('keeps every secret a secret input of a Secret, and out of the chart\'s values', () => {
      const secrets = secretsOf(all);
      assert.deepEqual(Object.fromEntries(secrets.get('gatehouse-secrets')!), { 'pki-key': PKI_KEY, 'key-encryption-secret': KEY_ENCRYPTION_SECRET, 'audit-signing-key.jwk': AUDIT_KEY });
      assert.equal(secrets.get('gatehouse-tls')!.get('tls.key'), TLS_KEY);
      const chart = JSON.stringify(chartOf(all).inputs);
      for (const text of SECRET_TEXTS) assert.ok(!chart.includes(text), `chart values hold no ${text}`);
      assert.ok(!chart.includes(pulumi.runtime.specialSecretSig), 'no secret output among the chart values');
    });

    it('renders with the real helm (lint --strict, template), reads only Secrets the program created, and Gatehouse accepts the config in production', () => {
      const objects = renderChart(chartOf(all));
      const secrets = secretsOf(all);
      for (const [name, key] of secretRefs(objects)) assert.ok(secrets.get(name)?.has(key), `the pod reads ${name}/${key}, which the program creates`);
      const r = gatehouseValidate(objects, secrets);
      assert.equal(r.status, 0, r.out);
      assert.match(r.text, /url: sqlite:\/data\/gatehouse\/gatehouse\.db/);
      assert.doesNotMatch(r.text, /ratelimit:|bus:/);
      for (const text of SECRET_TEXTS) assert.ok(!JSON.stringify(objects).includes(text), `no rendered object holds ${text}`);
      assert.equal(workload(objects).kind, 'Deployment');
    });
  });

  describe('one instance on the embedded store, on a persistent volume', () => {
    const PERSISTENT = { ...EMBEDDED, persistence: 'true', persistenceSize: '2Gi', persistenceStorageClass: 'fast-ssd', persistenceAccessMode: 'ReadWriteOncePod' };
    let all: Registered[];
    before(async () => { all = await deploy(PERSISTENT); });

    it('hands the chart persistence with the size, class and access mode set, and still the SQLite store in the data directory', () => {
      const values = chartOf(all).inputs['values'] as Json;
      assert.deepEqual(values['persistence'], { enabled: true, size: '2Gi', storageClassName: 'fast-ssd', accessModes: ['ReadWriteOncePod'] });
      assert.equal(values['replicaCount'], 1);
      assert.equal(values['config'].store.url, 'sqlite:/data/gatehouse/gatehouse.db');
    });

    it('renders with the real helm a one-pod StatefulSet whose own claim holds /data, with OnRootMismatch, and Gatehouse accepts the config in production', () => {
      const objects = renderChart(chartOf(all));
      const set = workload(objects);
      assert.equal(set.kind, 'StatefulSet');
      assert.equal(set.spec.replicas, 1);
      assert.deepEqual(set.spec.volumeClaimTemplates.map((t: Json) => t.spec), [{ accessModes: ['ReadWriteOncePod'], storageClassName: 'fast-ssd', resources: { requests: { storage: '2Gi' } } }]);
      assert.equal(set.spec.volumeClaimTemplates[0].metadata.name, 'data');
      assert.ok(set.spec.template.spec.containers[0].volumeMounts.some((m: Json) => m.name === 'data' && m.mountPath === '/data'));
      assert.equal(set.spec.template.spec.securityContext.fsGroupChangePolicy, 'OnRootMismatch');
      const secrets = secretsOf(all);
      for (const [name, key] of secretRefs(objects)) assert.ok(secrets.get(name)?.has(key), `the pod reads ${name}/${key}, which the program creates`);
      const r = gatehouseValidate(objects, secrets);
      assert.equal(r.status, 0, r.out);
      assert.match(r.text, /url: sqlite:\/data\/gatehouse\/gatehouse\.db/);
    });

    it('keeps the namespace, and with it the claims, on pulumi destroy or a namespace change (as helm uninstall keeps them)', async () => {
      // Deleting the namespace deletes every claim in it: the embedded store, the CA and the keys.
      await deploy(PERSISTENT);
      assert.deepEqual(retained, ['kubernetes:core/v1:Namespace gatehouse-trial']);
      await deploy(EMBEDDED);
      assert.deepEqual(retained, [], 'without persistence nothing in the namespace outlives a pod anyway');
    });

    it('mounts an existing claim instead, when given one', async () => {
      const other = await deploy({ ...EMBEDDED, persistence: 'true', persistenceExistingClaim: 'gatehouse-data' });
      assert.deepEqual(chartOf(other).inputs['values'].persistence, { enabled: true, existingClaim: 'gatehouse-data' });
      const set = workload(renderChart(chartOf(other)));
      assert.equal(set.spec.volumeClaimTemplates, undefined);
      assert.deepEqual(set.spec.template.spec.volumes.find((v: Json) => v.name === 'data'), { name: 'data', persistentVolumeClaim: { claimName: 'gatehouse-data' } });
    });
  });

  describe('several instances on PostgreSQL, Redis and NATS', () => {
    let all: Registered[];
    before(async () => { all = await deploy(SEVERAL); });

    it('creates the shared, password, CA and environment Secrets and refers to the existing TLS Secret', () => {
      assert.deepEqual(byType(all, 'kubernetes:core/v1:Secret').map((s) => s.inputs['metadata'].name).sort(), ['gatehouse-ca', 'gatehouse-env', 'gatehouse-passwords', 'gatehouse-secrets']);
      assert.deepEqual(chartOf(all).inputs['values'].tls, { secretName: 'gatehouse-example-com-tls' });
    });

    it('hands the chart the hosts, ports, users and database of the URLs, and the Secrets of their passwords', () => {
      const values = chartOf(all).inputs['values'] as Json;
      assert.equal(values['replicaCount'], 3);
      assert.deepEqual(values['autoscaling'], { enabled: true, minReplicas: 3, maxReplicas: 12 });
      assert.deepEqual(values['store'], {
        host: 'pg.databases.svc.cluster.local', port: 5433, database: 'gatehouse', user: 'gatehouse', sslmode: 'verify-full',
        passwordSecret: { name: 'gatehouse-passwords', key: 'store-password' }, caSecret: { name: 'gatehouse-ca', key: 'ca.crt' },
      });
      assert.deepEqual(values['redis'], { host: 'redis.databases.svc.cluster.local', port: 6380, db: 2, username: 'gatehouse', passwordSecret: { name: 'gatehouse-passwords', key: 'redis-password' } });
      assert.deepEqual(values['nats'], { host: 'nats.messaging.svc.cluster.local', port: 4222, user: 'gatehouse', passwordSecret: { name: 'gatehouse-passwords', key: 'nats-password' } });
      assert.deepEqual(values['extraCaCerts'], { secretName: 'gatehouse-ca', key: 'ca.crt' });
      // gatehouse:values passes through, and the store is the chart's PostgreSQL, not SQLite.
      assert.equal(values['podAntiAffinity'], 'hard');
      assert.deepEqual(values['config'], { upstreams: { mail: { url: 'https://mail.apps.svc.cluster.local:8443', credentials: { headers: { 'x-api-key': '${MAIL_API_KEY}' } } } } });
      assert.deepEqual(values['extraEnv'], [{ name: 'MAIL_API_KEY', valueFrom: { secretKeyRef: { name: 'gatehouse-env', key: 'MAIL_API_KEY' } } }]);
    });

    it('keeps the passwords secret inputs of the password Secret, and out of the chart\'s values', () => {
      const passwords = secretsOf(all).get('gatehouse-passwords')!;
      assert.deepEqual(Object.fromEntries(passwords), { 'store-password': PG_PASSWORD, 'redis-password': REDIS_PASSWORD, 'nats-password': NATS_PASSWORD });
      assert.deepEqual(Object.fromEntries(secretsOf(all).get('gatehouse-env')!), { MAIL_API_KEY: MAIL_KEY });
      const chart = JSON.stringify(chartOf(all).inputs);
      for (const text of SECRET_TEXTS) assert.ok(!chart.includes(text), `chart values hold no ${text}`);
      assert.ok(!chart.includes(pulumi.runtime.specialSecretSig), 'no secret output among the chart values');
    });

    it('keeps a password percent-encoded as written, since the chart puts it back into a URL', async () => {
      const encoded = 'p%40ss%2Fw%3Ard%25';
      const other = await deploy({ ...SEVERAL, storeUrl: `postgres://gatehouse:${encoded}@pg:5432/gatehouse` });
      assert.equal(secretsOf(other).get('gatehouse-passwords')!.get('store-password'), encoded);
      assert.equal(chartOf(other).inputs['values'].store.sslmode, 'verify-full', 'verify-full when the URL names no sslmode');
      all = await deploy(SEVERAL);
    });

    it('makes the chart depend on the Secrets, so that pods never start before them', () => {
      // The mocks take 20 ms to create a Secret: the chart is registered only once all are done.
      assert.deepEqual(createdBeforeChart.sort(), byType(all, 'kubernetes:core/v1:Secret').map((s) => s.name).sort());
    });

    it('renders with the real helm, reads only Secrets the program created, and Gatehouse accepts the config in production', () => {
      const objects = renderChart(chartOf(all));
      const secrets = secretsOf(all);
      for (const [name, key] of secretRefs(objects)) {
        if (name === 'gatehouse-example-com-tls') continue; // the operator's (tlsSecretName)
        assert.ok(secrets.get(name)?.has(key), `the pod reads ${name}/${key}, which the program creates`);
      }
      assert.ok(objects.some((o) => o.kind === 'HorizontalPodAutoscaler'));
      // imageDigest replaced the digest only: the repository is still the chart's default.
      assert.equal(objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].image, `ghcr.io/gatehouse/gatehouse@sha256:${'ab'.repeat(32)}`);
      const r = gatehouseValidate(objects, secrets);
      assert.equal(r.status, 0, r.out);
      assert.match(r.text, /url: postgres:\/\/gatehouse:\$\{GATEHOUSE_DB_PASSWORD\}@pg\.databases\.svc\.cluster\.local:5433\/gatehouse\?sslmode=verify-full&sslrootcert=/);
      assert.match(r.text, /url: rediss:\/\/gatehouse:\$\{GATEHOUSE_REDIS_PASSWORD\}@redis\.databases\.svc\.cluster\.local:6380\/2/);
      assert.match(r.text, /url: tls:\/\/gatehouse:\$\{GATEHOUSE_NATS_PASSWORD\}@nats\.messaging\.svc\.cluster\.local:4222/);
      for (const text of SECRET_TEXTS) assert.ok(!JSON.stringify(objects).includes(text), `no rendered object holds ${text}`);
    });
  });

  it('gives several instances a claim each with persistence: a StatefulSet the autoscaler targets', async () => {
    const all = await deploy({ ...SEVERAL, persistence: 'true' });
    assert.deepEqual(chartOf(all).inputs['values'].persistence, { enabled: true });
    const objects = renderChart(chartOf(all));
    const set = workload(objects);
    assert.equal(set.kind, 'StatefulSet');
    assert.equal(set.spec.volumeClaimTemplates.length, 1);
    assert.deepEqual(objects.find((o) => o.kind === 'HorizontalPodAutoscaler')!.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'gatehouse' });
    assert.equal(gatehouseValidate(objects, secretsOf(all)).status, 0);
  });

  describe('refuses, before creating anything, with the key named', () => {
    const without = (config: Record<string, string>, ...keys: string[]) => Object.fromEntries(Object.entries(config).filter(([k]) => !keys.includes(k)));
    for (const [what, config, key, reason] of [
      ['several replicas without Redis', without(SEVERAL, 'redisUrl'), 'redisUrl', /several instances .*Redis/],
      ['several replicas without NATS', without(SEVERAL, 'natsUrl'), 'natsUrl', /NATS JetStream/],
      ['several replicas without a store URL (one SQLite file per pod)', without(SEVERAL, 'storeUrl'), 'storeUrl', /one PostgreSQL store/],
      ['an autoscaler above one replica without Redis (replicas 1)', { ...without(SEVERAL, 'redisUrl'), replicas: '1', maxReplicas: '4' }, 'redisUrl', /several instances \(replicas 1, maxReplicas 4\)/],
      ['maxReplicas below replicas', { ...SEVERAL, maxReplicas: '2' }, 'maxReplicas', /below replicas/],
      ['zero replicas (the chart\'s minimum)', { ...EMBEDDED, replicas: '0' }, 'replicas', /minimum is 1/],
      ['sslmode=require (the chart accepts only verify-full or verify-ca)', { ...SEVERAL, storeUrl: `postgres://gatehouse:${PG_PASSWORD}@pg:5432/gatehouse?sslmode=require` }, 'storeUrl', /store\.sslmode.*verify-full, verify-ca/],
      ['a store URL with parameters the chart would drop', { ...SEVERAL, storeUrl: `postgres://gatehouse:${PG_PASSWORD}@pg:5432/gatehouse?sslrootcert=/x` }, 'storeUrl', /parameter sslrootcert/],
      ['a database name the chart refuses', { ...SEVERAL, storeUrl: `postgres://gatehouse:${PG_PASSWORD}@pg:5432/gate%20house` }, 'storeUrl', /store\.database/],
      ['a clear-text redis:// URL', { ...SEVERAL, redisUrl: `redis://gatehouse:${REDIS_PASSWORD}@redis:6379` }, 'redisUrl', /scheme redis; expected rediss/],
      ['a Redis database out of the chart\'s range', { ...SEVERAL, redisUrl: `rediss://gatehouse:${REDIS_PASSWORD}@redis:6379/16` }, 'redisUrl', /redis\.db.*maximum is 15/],
      ['a clear-text nats:// URL', { ...SEVERAL, natsUrl: `nats://gatehouse:${NATS_PASSWORD}@nats:4222` }, 'natsUrl', /scheme nats; expected tls/],
      ['a NATS token in the user part (it would land in the ConfigMap)', { ...SEVERAL, natsUrl: `tls://${NATS_PASSWORD}@nats:4222` }, 'natsUrl', /token/],
      ['something that is not a URL', { ...SEVERAL, storeUrl: `gatehouse:${PG_PASSWORD}` }, 'storeUrl', /not a URL|scheme/],
      ['an http:// publicUrl (the chart\'s pattern)', { ...EMBEDDED, publicUrl: 'http://trial.example.com' }, 'publicUrl', /publicUrl "http:\/\/trial\.example\.com".*pattern/],
      ['no TLS certificate', without(EMBEDDED, 'tlsCert', 'tlsKey'), 'tlsCert', /tlsSecretName/],
      ['a TLS Secret name the chart refuses', { ...without(EMBEDDED, 'tlsCert', 'tlsKey'), tlsSecretName: 'Not_A_Name' }, 'tlsSecretName', /tls\.secretName/],
      ['an image digest the chart refuses', { ...EMBEDDED, imageDigest: 'sha256:abc' }, 'imageDigest', /image\.digest/],
      ['a namespace that is not a DNS label', { ...EMBEDDED, namespace: 'Edge' }, 'namespace', /namespace name/],
      ['chart values setting a connection (a password could go into the ConfigMap)', { ...EMBEDDED, values: JSON.stringify({ config: { store: { url: `postgres://u:${PG_PASSWORD}@pg/db` } } }) }, 'values', /config\.store/],
      ['chart values setting a key the program owns', { ...EMBEDDED, values: JSON.stringify({ secrets: { existingSecret: 'other' } }) }, 'values', /sets secrets/],
      ['chart values switching production mode off through extraEnv (a later NODE_ENV wins)', { ...EMBEDDED, values: JSON.stringify({ extraEnv: [{ name: 'NODE_ENV', value: 'development' }] }) }, 'values', /extraEnv NODE_ENV/],
      ['a store URL whose user part hides the password behind an encoded colon (the refusal must not quote it)', { ...SEVERAL, storeUrl: `postgres://gatehouse%3A${PG_PASSWORD}@pg.databases.svc.cluster.local/gatehouse` }, 'storeUrl', /store\.user/],
      ['a store URL whose unencoded ? in the password starts a query (the refusal must not quote the rest of the password)', { ...SEVERAL, storeUrl: `postgres://gatehouse:1234?${PG_PASSWORD}@pg.databases.svc.cluster.local/gatehouse` }, 'storeUrl', /has a parameter/],
      ['a Redis URL whose user part hides the password behind an encoded colon', { ...SEVERAL, redisUrl: `rediss://gatehouse%3A${REDIS_PASSWORD}@redis.databases.svc.cluster.local/0` }, 'redisUrl', /redis\.username/],
      ['a secretEnv variable the chart sets itself', { ...EMBEDDED, secretEnv: JSON.stringify({ GATEHOUSE_PKI_KEY: 'x' }) }, 'secretEnv', /GATEHOUSE_PKI_KEY/],
      ['a secretEnv name that is not an environment variable name', { ...EMBEDDED, secretEnv: JSON.stringify({ 'mail-key': 'x' }) }, 'secretEnv', /"mail-key"/],
      ['a missing CA master key', without(EMBEDDED, 'pkiKey'), 'pkiKey', /pkiKey/],
      ['an existing claim for several instances (two pods would share one spool)', { ...SEVERAL, persistence: 'true', persistenceExistingClaim: 'gatehouse-data' }, 'persistenceExistingClaim', /one volume for one instance \(replicas 3, maxReplicas 12\)/],
      ['an existing claim with an autoscaler, even at one replica', { ...EMBEDDED, maxReplicas: '1', persistence: 'true', persistenceExistingClaim: 'gatehouse-data' }, 'persistenceExistingClaim', /one volume for one instance \(replicas 1, maxReplicas 1\)/],
      ['a claim name the chart refuses', { ...EMBEDDED, persistence: 'true', persistenceExistingClaim: 'My_Claim' }, 'persistenceExistingClaim', /persistence\.existingClaim/],
      ['a volume size with an existing claim (only a claim per pod is made from it: it would go unused)', { ...EMBEDDED, persistence: 'true', persistenceExistingClaim: 'gatehouse-data', persistenceSize: '20Gi' }, 'persistenceSize', /persistenceExistingClaim/],
      ['a storage class with an existing claim (it would go unused)', { ...EMBEDDED, persistence: 'true', persistenceExistingClaim: 'gatehouse-data', persistenceStorageClass: 'fast-ssd' }, 'persistenceStorageClass', /persistenceExistingClaim/],
      ['an access mode with an existing claim (the claim has its own: this one would go unused)', { ...EMBEDDED, persistence: 'true', persistenceExistingClaim: 'gatehouse-data', persistenceAccessMode: 'ReadWriteOncePod' }, 'persistenceAccessMode', /persistenceExistingClaim/],
      ['a volume size without persistence (it would go unused)', { ...EMBEDDED, persistenceSize: '2Gi' }, 'persistenceSize', /persistence is not true/],
      ['a volume size the chart refuses', { ...EMBEDDED, persistence: 'true', persistenceSize: 'lots' }, 'persistenceSize', /persistence\.size "lots"/],
      ['a zero volume size (a claim requesting no storage, which the API refuses)', { ...EMBEDDED, persistence: 'true', persistenceSize: '0Gi' }, 'persistenceSize', /persistence\.size "0Gi"/],
      ['a shared (ReadWriteMany) volume', { ...EMBEDDED, persistence: 'true', persistenceAccessMode: 'ReadWriteMany' }, 'persistenceAccessMode', /ReadWriteOnce, ReadWriteOncePod/],
      ['chart values setting persistence (the program\'s keys check it)', { ...EMBEDDED, values: JSON.stringify({ persistence: { enabled: true, existingClaim: 'x' } }) }, 'values', /sets persistence/],
    ] as const) {
      it(`refuses ${what}, naming gatehouse:${key}`, async () => {
        const r = await refusal(config);
        assert.match(r.message, new RegExp(`gatehouse:${key}\\b`));
        assert.match(r.message, reason);
        assert.equal(r.registered, 0, 'no resource registered');
        for (const text of SECRET_TEXTS) assert.ok(!r.message.includes(text), 'the message holds no secret');
      });
    }

    it('agrees with the chart on when Redis and NATS are needed (the real helm, 20 combinations)', () => {
      for (const replicas of [1, 3]) {
        for (const maxReplicas of [undefined, 1, 4]) {
          if (maxReplicas !== undefined && maxReplicas < replicas) continue;
          for (const [redis, nats] of [[true, true], [true, false], [false, true], [false, false]] as const) {
            const autoscaling = { enabled: maxReplicas !== undefined, maxReplicas: maxReplicas ?? 1 };
            const programNeeds = runsSeveralInstances(replicas, autoscaling) && (!redis || !nats);
            const r = helm(['template', 'gh', chartPath, '--set', 'publicUrl=https://gatehouse.example.com', '--set', `replicaCount=${replicas}`,
              '--set', `autoscaling.enabled=${autoscaling.enabled}`, '--set', `autoscaling.maxReplicas=${autoscaling.maxReplicas}`,
              '--set', `redis.host=${redis ? 'redis' : ''}`, '--set', `nats.host=${nats ? 'nats' : ''}`]);
            const chartRefuses = r.status !== 0;
            if (chartRefuses) assert.match(r.out, /several replicas need redis\.host/);
            assert.equal(programNeeds, chartRefuses, `replicas ${replicas}, maxReplicas ${maxReplicas}, redis ${redis}, nats ${nats}: ${r.out.slice(0, 300)}`);
          }
        }
      }
    });
  });

  it('agrees with the chart on when an existing claim is allowed (the real helm, 5 combinations)', () => {
    let compared = 0;
    for (const replicas of [1, 3]) {
      for (const maxReplicas of [undefined, 1, 4]) {
        if (maxReplicas !== undefined && maxReplicas < replicas) continue;
        const autoscaling = maxReplicas !== undefined;
        const r = helm(['template', 'gh', chartPath, '--set', 'publicUrl=https://gatehouse.example.com', '--set', `replicaCount=${replicas}`,
          '--set', `autoscaling.enabled=${autoscaling}`, '--set', `autoscaling.maxReplicas=${maxReplicas ?? 1}`, '--set', 'autoscaling.minReplicas=1',
          '--set', 'persistence.enabled=true', '--set', 'persistence.existingClaim=gatehouse-data']);
        if (r.status !== 0) assert.match(r.out, /existingClaim is one volume for one instance/);
        assert.equal(existingClaimAllowed(replicas, autoscaling), r.status === 0, `replicas ${replicas}, maxReplicas ${maxReplicas}: ${r.out.slice(0, 300)}`);
        compared++;
      }
    }
    assert.equal(compared, 5);
  });

  it('runs as index.ts, the entry point Pulumi.yaml names, from the stack config', async () => {
    await deploy(EMBEDDED); // mocks and config for the import below
    registered = [];
    const program = await import('../../deploy/pulumi/index.ts');
    const exported = await new Promise((resolve) => pulumi.all([program.namespaceName, program.publicUrl, program.shape]).apply(resolve));
    assert.deepEqual(exported, ['gatehouse-trial', 'https://trial.example.com', 'one instance, embedded store']);
    // The Secrets take the mocks 20 ms, then the chart registers: wait for it (index.ts exports neither).
    for (let i = 0; i < 100 && registered.length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(registered.map((r) => r.type).sort(), ['kubernetes:core/v1:Namespace', 'kubernetes:core/v1:Secret', 'kubernetes:core/v1:Secret', 'kubernetes:helm.sh/v4:Chart']);
  });

  it('has a Pulumi.yaml whose project name is the config namespace and whose main is index.ts, run by Node\'s type stripping', () => {
    const project = parse(readFileSync(join(root, 'deploy', 'pulumi', 'Pulumi.yaml'), 'utf8')) as Json;
    assert.equal(project['name'], 'gatehouse'); // the gatehouse: of every config key
    assert.equal(project['main'], 'index.ts');
    assert.ok(existsSync(join(root, 'deploy', 'pulumi', project['main'])));
    assert.deepEqual(project['runtime'], { name: 'nodejs', options: { typescript: false } });
  });

  it('marks the config secrets as secret outputs (pulumi.isSecret)', async () => {
    await deploy(SEVERAL);
    const settings = readSettings();
    for (const output of [settings.secretEnv!.values as pulumi.Output<unknown>, settings.pkiKey, settings.keyEncryptionSecret, settings.auditSigningKey, settings.store!.password!, settings.redis!.password!, settings.nats!.password!]) {
      assert.equal(await pulumi.isSecret(output), true);
    }
  });
});
