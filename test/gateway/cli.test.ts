/** The gatehouse command, run as a user would run it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
function gatehouse(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

/** What production needs besides the file (else config validate refuses generated keys). */
const PRODUCTION_SECRETS = { GATEHOUSE_PKI_KEY: 'p'.repeat(40), GATEHOUSE_KEY_ENCRYPTION_SECRET: 'k'.repeat(43) };

describe('gatehouse CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));

  it('config validate fails on an unknown key and names its path', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'upstreams:\n  a: { url: "http://127.0.0.1:1" }\nroutes:\n  - { id: r, path: /x, upstream: a, timeoutz: 5 }\nlisteners:\n  ops: { port: "9090" }\n');
    const r = gatehouse(['config', 'validate', file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /routes\.0: unknown key\(s\): timeoutz/);
    assert.match(r.stderr, /listeners\.ops\.port:/);
  });

  it('config validate reports an unknown upstream and a missing environment variable', () => {
    const file = join(dir, 'bad2.yaml');
    writeFileSync(file, 'upstreams:\n  a: { url: "${GATEHOUSE_TEST_UNSET_VAR}" }\nroutes:\n  - { id: r, path: /x, upstream: b }\n');
    const r = gatehouse(['config', 'validate', file], { GATEHOUSE_TEST_UNSET_VAR: undefined });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /upstreams\.a\.url: environment variable GATEHOUSE_TEST_UNSET_VAR is not set/);
  });

  it('config validate accepts a valid file and substitutes ${ENV}', () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, 'upstreams:\n  a: { url: "http://127.0.0.1:${PORT_FOR_TEST}" }\nroutes:\n  - { id: r, path: /x, upstream: a, access: public }\n');
    const r = gatehouse(['config', 'validate', file], { PORT_FOR_TEST: '3000' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /valid \(1 routes/);
  });

  it('refuses development conveniences in production mode', () => {
    const file = join(dir, 'prod.yaml');
    writeFileSync(file, 'upstreams:\n  a: { url: "http://10.0.0.5:80" }\n');
    const r = gatehouse(['config', 'validate', file], { NODE_ENV: 'production' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /listeners\.https\.tls: not allowed in production/);
    assert.match(r.stderr, /upstreams\.a\.url: not allowed in production/);
  });

  it('an http:// federation issuer (allowInsecureHttp) is refused by config validate in production and a development warning otherwise', () => {
    const file = join(dir, 'insecure-federation.yaml');
    writeFileSync(file, 'listeners:\n  https: { tls: { cert: c.pem, key: k.pem } }\nidentity:\n  federation:\n    corp: { issuer: "http://idp.example", clientId: gatehouse, allowInsecureHttp: true }\n');
    const prod = gatehouse(['config', 'validate', file], { NODE_ENV: 'production' });
    assert.equal(prod.status, 1, prod.stdout + prod.stderr);
    assert.match(prod.stderr, /identity\.federation\.corp\.allowInsecureHttp: not allowed in production/);
    const dev = gatehouse(['config', 'validate', file], { NODE_ENV: 'development' });
    assert.equal(dev.status, 0, dev.stderr);
    assert.match(dev.stdout, /warning: identity\.federation\.corp\.allowInsecureHttp: /);
  });

  it('span export with a bearer token over plain HTTP to another host (credentials in clear text) is refused in production, warned in development; loopback and https pass', () => {
    const file = join(dir, 'tracing-http.yaml');
    const tls = 'listeners:\n  https: { tls: { cert: c.pem, key: k.pem } }\n';
    writeFileSync(file, `${tls}tracing:\n  enabled: true\n  endpoint: "http://collector.example:4318/v1/traces"\n  headers: { authorization: "Bearer s3cret-token" }\n`);
    const prod = gatehouse(['config', 'validate', file], { NODE_ENV: 'production' });
    assert.equal(prod.status, 1, prod.stdout + prod.stderr);
    assert.match(prod.stderr, /tracing\.endpoint: not allowed in production: plain HTTP .* with credentials/);
    assert.doesNotMatch(prod.stdout + prod.stderr, /s3cret-token/);
    const dev = gatehouse(['config', 'validate', file], { NODE_ENV: 'development' });
    assert.equal(dev.status, 0, dev.stderr);
    assert.match(dev.stdout, /warning: tracing\.endpoint: /);
    for (const endpoint of ['https://collector.example/v1/traces', 'http://127.0.0.1:4318/v1/traces']) {
      writeFileSync(file, `${tls}tracing:\n  enabled: true\n  endpoint: "${endpoint}"\n  headers: { authorization: "Bearer s3cret-token" }\n`);
      const ok = gatehouse(['config', 'validate', file], { NODE_ENV: 'production', ...PRODUCTION_SECRETS });
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    }
  });

  it('config defaults prints a configuration that validates', () => {
    const r = gatehouse(['config', 'defaults']);
    assert.equal(r.status, 0, r.stderr);
    const doc = parse(r.stdout) as { listeners: { https: { port: number } } };
    assert.equal(doc.listeners.https.port, 8443);
    const file = join(dir, 'defaults.yaml');
    writeFileSync(file, r.stdout);
    assert.equal(gatehouse(['config', 'validate', file]).status, 0);
  });

  it('version prints the package version', () => {
    const r = gatehouse(['version']);
    assert.equal(r.status, 0);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
  });
});
