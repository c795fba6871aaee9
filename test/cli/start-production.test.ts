/**
 * NODE_ENV=production, step by step from an empty data directory: every development
 * convenience is refused at start with its code (no secret, no CA, no audit signing key), and
 * nothing is generated into the data directory on the way. Once the operator has provided each
 * one, Gatehouse starts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouse, show } from './support/cli.ts';

describe('gatehouse start in production', () => {
  let dir: string;
  let file: string;
  let data: string;
  const secrets = { GATEHOUSE_PKI_KEY: randomBytes(32).toString('base64url'), GATEHOUSE_KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64url') };
  const production = { NODE_ENV: 'production' };
  const run = (args: string[], env: NodeJS.ProcessEnv) => gatehouse(args, { env, timeoutMs: 30_000, stopWhen: /Gatehouse is listening/ });
  /** What a development start would have generated into the data directory. */
  const generated = () => ['identity-kek', join('pki', 'master.key'), 'audit-signing-key.jwk', 'tls'].filter((f) => existsSync(join(data, f)));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-cli-prod-'));
    data = join(dir, 'data');
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '30'], { stdio: 'ignore' });
    file = join(dir, 'gatehouse.yaml');
    await writeFile(file, `dataDir: ${data}\nlisteners:\n  https: { host: 127.0.0.1, port: 0, tls: { cert: "${cert}", key: "${key}" } }\n  http: { enabled: false }\n  ops: { host: 127.0.0.1, port: 0 }\n`);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('without the CA master key and key-encryption secret: refused by path before the data directory exists', async () => {
    const r = await run(['start', '--config', file], production);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /pki\.key: not allowed in production/, show(r));
    assert.match(r.stderr, /identity\.signing\.keyEncryptionSecret: not allowed in production/, show(r));
    assert.equal(existsSync(data), false);
  });

  it('without a certificate authority: ERR_PKI_NOT_INITIALIZED, none created', async () => {
    const r = await run(['start', '--config', file], { ...production, ...secrets });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /^error ERR_PKI_NOT_INITIALIZED/m, show(r));
    assert.deepEqual(generated(), []);
  });

  it('without an audit signing key: ERR_AUDIT_KEY_MISSING, none generated', async () => {
    const init = await gatehouse(['ca', 'init', '--config', file], { env: { ...production, ...secrets } });
    assert.equal(init.status, 0, show(init));
    const r = await run(['start', '--config', file], { ...production, ...secrets });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /^error ERR_AUDIT_KEY_MISSING/m, show(r));
    assert.deepEqual(generated(), []);
  });

  it('with all of them provided: starts, having generated nothing into the data directory', async () => {
    const keygen = await gatehouse(['audit', 'keygen', '--out', join(dir, 'audit.jwk')]);
    assert.equal(keygen.status, 0, show(keygen));
    const withKey = join(dir, 'with-key.yaml');
    await writeFile(withKey, `${await readFile(file, 'utf8')}audit: { signingKeyFile: "${join(dir, 'audit.jwk')}" }\n`);
    const r = await run(['start', '--config', withKey], { ...production, ...secrets });
    assert.match(r.stdout, /Gatehouse is listening/, show(r));
    assert.doesNotMatch(r.stdout + r.stderr, /DEVELOPMENT/, show(r));
    assert.deepEqual(generated(), []);
    assert.ok((await readdir(data)).includes('gatehouse.db'));
  });
});
