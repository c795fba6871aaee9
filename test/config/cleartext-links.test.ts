/**
 * Links to the infrastructure around Gatehouse that would cross a network in clear text (the
 * database, Redis, NATS, the audit exports, a federation provider's egress proxy with credentials) are development conveniences: warned about, and
 * refused in production, where an eavesdropper on the path would read credentials and
 * security records and could forge them. Loopback and Unix sockets cross no network.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

const production = { NODE_ENV: 'production', GATEHOUSE_PKI_KEY: 'p'.repeat(40), GATEHOUSE_KEY_ENCRYPTION_SECRET: 'k'.repeat(43) };
const tls = { listeners: { https: { tls: { cert: 'c.pem', key: 'k.pem' } } } };

function problemsOf(doc: Record<string, unknown>, env: NodeJS.ProcessEnv = production): string[] {
  try {
    parseConfig({ ...tls, ...doc }, { env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  return [];
}

const cases: { what: string; doc: Record<string, unknown>; path: string }[] = [
  { what: 'PostgreSQL on another host without sslmode (password and records in clear text)', doc: { store: { url: 'postgres://gatehouse:pw@db.internal:5432/gatehouse' } }, path: 'store.url' },
  { what: 'PostgreSQL with sslmode=require (TLS whose server certificate a later pg no longer checks)', doc: { store: { url: 'postgresql://db.internal/gatehouse?sslmode=require' } }, path: 'store.url' },
  { what: 'PostgreSQL with sslmode=no-verify (any certificate, a man in the middle included)', doc: { store: { url: 'postgres://db.internal/gatehouse?sslmode=no-verify' } }, path: 'store.url' },
  { what: 'PostgreSQL named by a host= parameter on another host', doc: { store: { url: 'postgres:///gatehouse?host=db.internal' } }, path: 'store.url' },
  { what: 'Redis on another host over redis:// (limits forged, password read)', doc: { ratelimit: { url: 'redis://:pw@redis.internal:6379' } }, path: 'ratelimit.url' },
  { what: 'NATS on another host over nats:// (security events forged in transit)', doc: { bus: { url: 'nats://nats.internal:4222' } }, path: 'bus.url' },
  { what: 'syslog export over UDP to another host (audit records read, dropped, forged)', doc: { audit: { export: { syslog: { url: 'udp://10.0.0.9:514' } } } }, path: 'audit.export.syslog.url' },
  { what: 'syslog export over TCP to another host', doc: { audit: { export: { syslog: { url: 'tcp://logs.internal:601' } } } }, path: 'audit.export.syslog.url' },
  { what: 'a federation provider\'s egress proxy over http:// on another host with a user name and password in its URL (read on the path, the proxy then used as Gatehouse)', doc: { identity: { federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', proxy: 'http://svc:pw@proxy.internal:3128' } } } }, path: 'identity.federation.corp.proxy' },
  // The URL parser reads the scheme case-insensitively and drops leading blanks; so must the check.
  { what: 'a federation provider\'s egress proxy with credentials whose scheme is written HTTP:// (the URL parser reads it as http://)', doc: { identity: { federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', proxy: 'HTTP://svc:pw@proxy.internal:3128' } } } }, path: 'identity.federation.corp.proxy' },
  { what: 'a federation provider\'s egress proxy with credentials written after a leading blank (the URL parser drops it)', doc: { identity: { federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', proxy: ' http://svc:pw@proxy.internal:3128' } } } }, path: 'identity.federation.corp.proxy' },
  { what: 'OTLP audit export to another host whose scheme is written HTTP://', doc: { audit: { export: { otlp: { url: 'HTTP://collector.internal:4318/v1/logs' } } } }, path: 'audit.export.otlp.url' },
  { what: 'OTLP audit export over plain HTTP to another host with an API key', doc: { audit: { export: { otlp: { url: 'http://collector.internal:4318/v1/logs', headers: { 'x-api-key': 'k' } } } } }, path: 'audit.export.otlp.url' },
];

describe('clear-text links to infrastructure', () => {
  for (const c of cases) {
    it(`production refuses ${c.what}, naming ${c.path}`, () => {
      const problems = problemsOf(c.doc);
      assert.ok(problems.some((p) => p.startsWith(`${c.path}: not allowed in production: `)), problems.join('\n'));
    });
    it(`development warns about ${c.what}, at ${c.path}`, () => {
      const loaded = parseConfig({ ...tls, ...c.doc }, { env: { NODE_ENV: 'test' } });
      assert.ok(loaded.warnings.some((w) => w.path.join('.') === c.path), JSON.stringify(loaded.warnings));
    });
  }

  it('production accepts verified TLS to other hosts, and clear text on loopback or a Unix socket', () => {
    const accepted: Record<string, unknown>[] = [
      { store: { url: 'postgres://gatehouse:pw@db.internal/gatehouse?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem' } },
      { store: { url: 'postgres://db.internal/gatehouse?SSLMODE=verify-ca' } },
      { store: { url: 'postgres://gatehouse@127.0.0.1:5432/gatehouse' } },
      { store: { url: 'postgres://localhost/gatehouse' } },
      { store: { url: 'postgres:///gatehouse?host=/var/run/postgresql' } },
      { ratelimit: { url: 'rediss://redis.internal:6380' } },
      { ratelimit: { url: 'redis://127.0.0.1:6379' } },
      { bus: { url: 'tls://nats.internal:4222' } },
      { bus: { url: 'nats://[::1]:4222' } },
      { audit: { export: { syslog: { url: 'tls://logs.internal:6514', ca: '/etc/ssl/logs-ca.pem' } } } },
      { audit: { export: { syslog: { url: 'udp://127.0.0.1:514' } } } },
      { audit: { export: { otlp: { url: 'https://collector.internal:4318/v1/logs' } } } },
      { audit: { export: { otlp: { url: 'http://localhost:4318/v1/logs' } } } },
      // An http:// proxy without credentials only carries the provider's own TLS.
      { identity: { federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', proxy: 'http://proxy.internal:3128' } } } },
      { identity: { federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', proxy: 'https://svc:pw@proxy.internal:3129' } } } },
      { identity: { federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', proxy: 'http://svc:pw@127.0.0.1:3128' } } } },
    ];
    for (const doc of accepted) assert.deepEqual(problemsOf(doc), [], JSON.stringify(doc));
  });

  it('a syslog CA file with a udp:// or tcp:// receiver is an error at audit.export.syslog.ca (it would be ignored)', () => {
    const problems = problemsOf({ audit: { export: { syslog: { url: 'udp://127.0.0.1:514', ca: 'ca.pem' } } } }, { NODE_ENV: 'test' });
    assert.ok(problems.some((p) => p.startsWith('audit.export.syslog.ca: ')), problems.join('\n'));
  });

  it('config validate refuses a store URL of an unknown scheme at store.url, as start would (mysql://, a typo, a bare path)', () => {
    for (const url of ['mysql://db/gatehouse', 'postgress://db/gatehouse', './gatehouse.db', 'sqlite:']) {
      const problems = problemsOf({ store: { url } }, { NODE_ENV: 'test' });
      assert.ok(problems.some((p) => /^store\.url: (expected sqlite:|sqlite URL needs)/.test(p)), `${url}: ${problems.join('\n')}`);
    }
  });
});
