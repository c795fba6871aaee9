/**
 * The store, Redis and NATS connection URLs, read from Pulumi config secrets and split into what
 * the chart takes as plain values (host, port, user, database) and the password, which stays a
 * secret output and goes only into a Kubernetes Secret. The chart rebuilds each URL itself with
 * the password as `${GATEHOUSE_…_PASSWORD}` (docs/deployment.md), always over TLS.
 */
import * as pulumi from '@pulumi/pulumi';
import { checkChartValue } from './chart-rules.ts';
import { refuse } from './config-error.ts';

/** A link the chart gets as values, plus its password as a secret output (none: no password). */
export interface Link {
  host: string;
  port: number;
  /** Empty: no user in the URL. */
  user: string;
  password: pulumi.Output<string> | undefined;
}
export interface StoreLink extends Link { database: string; sslmode: string }
export interface RedisLink extends Link { db: number }
export type NatsLink = Link;

/**
 * Parses the secret config value `key` as a URL. The plain text is read here only to take its
 * non-secret parts and to refuse a bad URL before anything is created; the password is taken
 * again from `requireSecret`, so it is a secret output from the config to the Kubernetes Secret.
 */
function readUrl(config: pulumi.Config, key: string, schemes: string[], example: string): { url: URL; password: pulumi.Output<string> | undefined } {
  const text = config.require(key);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Never the value itself in the message: it holds a password.
    return refuse(config, key, `is not a URL (expected ${example})`);
  }
  if (!schemes.includes(url.protocol)) {
    refuse(config, key, `has scheme ${url.protocol.replace(/:$/u, '')}; expected ${schemes.map((s) => s.replace(/:$/u, '')).join(' or ')} (${example}): the chart connects over TLS only`);
  }
  if (url.hostname === '') refuse(config, key, `has no host (expected ${example})`);
  if (url.hash !== '') refuse(config, key, 'has a #fragment, which no client reads');
  const password = url.password === ''
    ? undefined
    // Kept percent-encoded as in the URL: the chart writes it back into one (docs/deployment.md).
    : config.requireSecret(key).apply((t) => new URL(t).password);
  return { url, password };
}

function port(config: pulumi.Config, key: string, url: URL, fallback: number, valuesPath: string): number {
  const value = url.port === '' ? fallback : Number(url.port);
  checkChartValue(config, key, valuesPath, value, true);
  return value;
}

function user(config: pulumi.Config, key: string, url: URL, valuesPath: string): string {
  const value = decodeURIComponent(url.username);
  checkChartValue(config, key, valuesPath, value, true);
  return value;
}

/** `postgres://user:password@host:5432/database?sslmode=verify-full` (sslmode defaults to verify-full). */
export function readStoreUrl(config: pulumi.Config, key: string): StoreLink {
  const example = 'postgres://user:password@host:5432/database?sslmode=verify-full';
  const { url, password } = readUrl(config, key, ['postgres:', 'postgresql:'], example);
  for (const name of url.searchParams.keys()) {
    if (name !== 'sslmode') {
      // The name is quoted only when it is a plain word: an unencoded ? in the password starts a
      // query whose "name" is the rest of the password and the host (…@host/db).
      const shown = /^[A-Za-z_][A-Za-z0-9_]*$/u.test(name) ? `the parameter ${name}` : 'a parameter';
      refuse(config, key, `has ${shown}: the chart writes the store URL itself (sslmode only; a private CA is ${config.name}:caCert)`);
    }
  }
  const link: StoreLink = {
    host: url.hostname,
    port: port(config, key, url, 5432, 'store.port'),
    user: user(config, key, url, 'store.user'),
    password,
    database: decodeURIComponent(url.pathname.replace(/^\//u, '')),
    sslmode: url.searchParams.get('sslmode') ?? 'verify-full',
  };
  checkChartValue(config, key, 'store.host', link.host, true);
  checkChartValue(config, key, 'store.database', link.database, true);
  checkChartValue(config, key, 'store.sslmode', link.sslmode, true);
  return link;
}

/** `rediss://user:password@host:6379/0` (TLS; db 0 when the path is empty). */
export function readRedisUrl(config: pulumi.Config, key: string): RedisLink {
  const { url, password } = readUrl(config, key, ['rediss:'], 'rediss://user:password@host:6379/0');
  if (url.search !== '') refuse(config, key, 'has query parameters, which the chart does not pass on');
  const path = url.pathname.replace(/^\//u, '');
  if (!/^\d*$/u.test(path)) refuse(config, key, 'has a path that is not a database number');
  const link: RedisLink = {
    host: url.hostname,
    port: port(config, key, url, 6379, 'redis.port'),
    user: user(config, key, url, 'redis.username'),
    password,
    db: path === '' ? 0 : Number(path),
  };
  checkChartValue(config, key, 'redis.host', link.host, true);
  checkChartValue(config, key, 'redis.db', link.db, true);
  return link;
}

/** `tls://user:password@host:4222`. */
export function readNatsUrl(config: pulumi.Config, key: string): NatsLink {
  const { url, password } = readUrl(config, key, ['tls:'], 'tls://user:password@host:4222');
  if (url.search !== '' || (url.pathname !== '' && url.pathname !== '/')) refuse(config, key, 'has a path or query parameters, which the chart does not pass on');
  // NATS reads a lone user part as a token: the chart would write it into the ConfigMap in clear.
  if (url.username !== '' && url.password === '') refuse(config, key, 'has a user and no password: NATS takes a lone user part as a token, which the chart would write into its ConfigMap in clear; use user:password');
  const link: NatsLink = {
    host: url.hostname,
    port: port(config, key, url, 4222, 'nats.port'),
    user: user(config, key, url, 'nats.user'),
    password,
  };
  checkChartValue(config, key, 'nats.host', link.host, true);
  return link;
}
