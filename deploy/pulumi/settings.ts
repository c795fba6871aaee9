/**
 * The stack's Pulumi config, read and checked once, before any resource is registered: every
 * refusal names the key. Secrets are read with `requireSecret` and stay secret outputs.
 */
import * as pulumi from '@pulumi/pulumi';
import { checkChartValue, runsSeveralInstances } from './chart-rules.ts';
import { refuse } from './config-error.ts';
import { readNatsUrl, readRedisUrl, readStoreUrl } from './connection-url.ts';
import type { NatsLink, RedisLink, StoreLink } from './connection-url.ts';
import { readPersistence } from './persistence.ts';
import type { Persistence } from './persistence.ts';

export interface Settings {
  /** Namespace the program creates and installs the chart into. */
  namespace: string;
  /** Helm release name; the chart's objects are named after it. */
  release: string;
  publicUrl: string;
  replicas: number;
  /** Set: an HPA scales between `replicas` and this. */
  maxReplicas: number | undefined;
  image: { repository?: string; tag?: string; digest?: string };
  /** Absent: the embedded SQLite store in the pod's data directory (one instance only). */
  store: StoreLink | undefined;
  /** Absent: rate limits in memory (one instance only). */
  redis: RedisLink | undefined;
  /** Absent: the in-process event bus (one instance only). */
  nats: NatsLink | undefined;
  /** Set: a data volume that outlives the pod (the chart's persistence); absent: an emptyDir. */
  persistence: Persistence | undefined;
  /** An existing kubernetes.io/tls Secret (e.g. cert-manager's), or a certificate and its key. */
  tls: { secretName: string } | { cert: string; key: pulumi.Output<string> };
  /** PEM of a private CA that signed the store's, Redis' or NATS' certificate. */
  caCert: string | undefined;
  /** The secrets every instance shares (docs/deployment.md). */
  pkiKey: pulumi.Output<string>;
  keyEncryptionSecret: pulumi.Output<string>;
  auditSigningKey: pulumi.Output<string>;
  /**
   * More secrets for the process, e.g. an upstream credential a route injects: environment
   * variable → value, put into a Secret and referenced by `extraEnv`; `config` refers to them
   * as `${NAME}`. Names are plain; the values stay one secret output.
   */
  secretEnv: { names: string[]; values: pulumi.Output<Record<string, string>> } | undefined;
  /** More chart values (routes and upstreams in `config`, policies, networkPolicy, …). */
  values: Record<string, unknown>;
}

/**
 * Values the program sets from its own keys: `gatehouse:values` may not set them, so that a
 * connection or a secret cannot bypass the checks and the Secrets above (e.g. a password
 * written into `config.store.url`, which would land in the ConfigMap in clear).
 */
const OWNED_VALUES = ['replicaCount', 'publicUrl', 'autoscaling', 'secrets', 'tls', 'store', 'redis', 'nats', 'extraCaCerts', 'image', 'fullnameOverride', 'nameOverride', 'persistence'];
const OWNED_CONFIG = ['publicUrl', 'store', 'ratelimit', 'bus', 'dataDir'];

/** What the chart sets in the container's environment: `secretEnv` may not replace it. */
const CHART_ENV = ['NODE_ENV', 'NODE_EXTRA_CA_CERTS', 'GATEHOUSE_PKI_KEY', 'GATEHOUSE_KEY_ENCRYPTION_SECRET', 'GATEHOUSE_DB_PASSWORD', 'GATEHOUSE_REDIS_PASSWORD', 'GATEHOUSE_NATS_PASSWORD'];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/u;

function integer(config: pulumi.Config, key: string, fallback: number | undefined): number | undefined {
  const value = config.getNumber(key);
  if (value === undefined) return fallback;
  if (!Number.isInteger(value)) refuse(config, key, `is ${value}: an integer is needed`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readValues(config: pulumi.Config): Record<string, unknown> {
  const values = config.getObject<unknown>('values') ?? {};
  if (!isRecord(values)) refuse(config, 'values', 'must be an object of chart values');
  for (const name of OWNED_VALUES) {
    if (name in values) refuse(config, 'values', `sets ${name}, which the program sets from its own keys (docs/deployment.md, "The Pulumi program")`);
  }
  // A later env entry of the same name wins: NODE_ENV=development would switch production mode
  // off, a plain GATEHOUSE_PKI_KEY would replace the Secret's (the chart's schema refuses both too).
  const extraEnv = values['extraEnv'];
  if (extraEnv !== undefined) {
    if (!Array.isArray(extraEnv)) refuse(config, 'values', 'sets extraEnv to something other than a list');
    for (const entry of extraEnv) {
      const name = isRecord(entry) ? entry['name'] : undefined;
      if (typeof name === 'string' && CHART_ENV.includes(name)) refuse(config, 'values', `sets extraEnv ${name}, which the chart sets itself`);
    }
  }
  const extra = values['config'];
  if (extra !== undefined) {
    if (!isRecord(extra)) refuse(config, 'values', 'sets config to something other than an object');
    for (const name of OWNED_CONFIG) {
      if (name in extra) refuse(config, 'values', `sets config.${name}, which the program writes from ${config.name}:storeUrl, redisUrl, natsUrl and publicUrl`);
    }
  }
  return values;
}

function readSecretEnv(config: pulumi.Config): Settings['secretEnv'] {
  // Read plain once for the names only (they become plain extraEnv entries); the values are
  // taken again as one secret output.
  const plain = config.getObject<unknown>('secretEnv');
  if (plain === undefined) return undefined;
  if (!isRecord(plain)) return refuse(config, 'secretEnv', 'must be an object: environment variable name → secret value');
  const names = Object.keys(plain);
  for (const name of names) {
    if (!/^[A-Z_][A-Z0-9_]*$/u.test(name)) refuse(config, 'secretEnv', `has ${JSON.stringify(name)}: environment variable names are A-Z, 0-9 and _`);
    if (CHART_ENV.includes(name)) refuse(config, 'secretEnv', `sets ${name}, which the chart sets from its own Secrets`);
    if (typeof plain[name] !== 'string') refuse(config, 'secretEnv', `has a ${name} that is not a string`);
  }
  return { names, values: config.requireSecretObject<Record<string, string>>('secretEnv') };
}

function readTls(config: pulumi.Config): Settings['tls'] {
  const secretName = config.get('tlsSecretName');
  const cert = config.get('tlsCert');
  const hasKey = config.getSecret('tlsKey') !== undefined;
  if (secretName !== undefined) {
    if (cert !== undefined || hasKey) refuse(config, 'tlsSecretName', 'is set together with tlsCert/tlsKey: give one or the other');
    checkChartValue(config, 'tlsSecretName', 'tls.secretName', secretName);
    return { secretName };
  }
  if (cert === undefined || !hasKey) {
    refuse(config, cert === undefined ? 'tlsCert' : 'tlsKey', 'is missing: give tlsSecretName (an existing kubernetes.io/tls Secret, e.g. from cert-manager) or both tlsCert and tlsKey (secret)');
  }
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) refuse(config, 'tlsCert', 'is not a PEM certificate');
  return { cert, key: config.requireSecret('tlsKey') };
}

/** Reads and checks the stack's config (`new pulumi.Config()`: the project's namespace, `gatehouse:`). */
export function readSettings(config: pulumi.Config = new pulumi.Config()): Settings {
  const namespace = config.get('namespace') ?? 'gatehouse';
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) refuse(config, 'namespace', `is ${JSON.stringify(namespace)}: not a Kubernetes namespace name`);
  const release = config.get('release') ?? 'gatehouse';
  if (!DNS_LABEL.test(release) || release.length > 53) refuse(config, 'release', `is ${JSON.stringify(release)}: not a Helm release name`);

  const publicUrl = config.require('publicUrl');
  checkChartValue(config, 'publicUrl', 'publicUrl', publicUrl);
  // The chart's schema accepts an empty publicUrl, then fails the render: refuse it here.
  if (publicUrl === '') refuse(config, 'publicUrl', 'is empty: the chart needs the https:// origin every instance answers as');

  const replicas = integer(config, 'replicas', 1)!;
  checkChartValue(config, 'replicas', 'replicaCount', replicas);
  const maxReplicas = integer(config, 'maxReplicas', undefined);
  if (maxReplicas !== undefined) {
    checkChartValue(config, 'maxReplicas', 'autoscaling.maxReplicas', maxReplicas);
    if (maxReplicas < replicas) refuse(config, 'maxReplicas', `is ${maxReplicas}, below replicas (${replicas})`);
  }

  // Presence is known without reading a secret: refuse the shape before parsing anything.
  const several = runsSeveralInstances(replicas, { enabled: maxReplicas !== undefined, maxReplicas: maxReplicas ?? 1 });
  if (several) {
    const shown = maxReplicas === undefined ? `replicas is ${replicas}` : `replicas ${replicas}, maxReplicas ${maxReplicas}`;
    // The chart's rule (templates/_helpers.tpl): in memory, N instances allow N times a rate
    // limit and miss each other's blocks and revocations.
    if (config.getSecret('redisUrl') === undefined) refuse(config, 'redisUrl', `is missing: several instances (${shown}) share rate limits through Redis`);
    if (config.getSecret('natsUrl') === undefined) refuse(config, 'natsUrl', `is missing: several instances (${shown}) share blocks and revocations through NATS JetStream`);
    // The program's own rule: the embedded SQLite file is per pod, so N instances would be N
    // identity providers and CAs with different keys.
    if (config.getSecret('storeUrl') === undefined) refuse(config, 'storeUrl', `is missing: several instances (${shown}) share one PostgreSQL store`);
  }

  const persistence = readPersistence(config, replicas, maxReplicas);

  const image: Settings['image'] = {};
  const repository = config.get('imageRepository');
  if (repository !== undefined) image.repository = repository;
  const tag = config.get('imageTag');
  if (tag !== undefined) image.tag = tag;
  const digest = config.get('imageDigest');
  if (digest !== undefined) {
    checkChartValue(config, 'imageDigest', 'image.digest', digest);
    image.digest = digest;
  }

  const caCert = config.get('caCert');
  if (caCert !== undefined && !caCert.includes('-----BEGIN CERTIFICATE-----')) refuse(config, 'caCert', 'is not a PEM certificate');

  return {
    namespace,
    release,
    publicUrl,
    replicas,
    maxReplicas,
    image,
    store: config.getSecret('storeUrl') === undefined ? undefined : readStoreUrl(config, 'storeUrl'),
    redis: config.getSecret('redisUrl') === undefined ? undefined : readRedisUrl(config, 'redisUrl'),
    nats: config.getSecret('natsUrl') === undefined ? undefined : readNatsUrl(config, 'natsUrl'),
    persistence,
    tls: readTls(config),
    caCert,
    pkiKey: config.requireSecret('pkiKey'),
    keyEncryptionSecret: config.requireSecret('keyEncryptionSecret'),
    auditSigningKey: config.requireSecret('auditSigningKey'),
    secretEnv: readSecretEnv(config),
    values: readValues(config),
  };
}
