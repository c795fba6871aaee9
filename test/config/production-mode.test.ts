/**
 * NODE_ENV=production is the operator's word that this is production: nothing in the
 * configuration file can lift the production refusals.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

const production = { NODE_ENV: 'production' };
const tls = { listeners: { https: { tls: { cert: 'c.pem', key: 'k.pem' } } } };

function problemsOf(fn: () => unknown): string[] {
  try { fn(); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  assert.fail('the configuration was accepted');
}

const SECRETS = { GATEHOUSE_PKI_KEY: 'p'.repeat(40), GATEHOUSE_KEY_ENCRYPTION_SECRET: 'k'.repeat(43) };

describe('production mode', () => {
  it('config validate lists a PKI master key that would be generated (no pki.key, no GATEHOUSE_PKI_KEY) as refused, as start would', () => {
    const problems = problemsOf(() => parseConfig(tls, { env: { ...production, GATEHOUSE_KEY_ENCRYPTION_SECRET: SECRETS.GATEHOUSE_KEY_ENCRYPTION_SECRET } }));
    assert.deepEqual(problems.filter((p) => !p.startsWith('pki.key: not allowed in production: ')), [], problems.join('\n'));
    assert.equal(problems.length, 1);
  });

  it('config validate lists an identity key-encryption secret that would be generated as refused, naming the variable it reads', () => {
    const problems = problemsOf(() => parseConfig({ ...tls, identity: { signing: { keyEncryptionSecretEnv: 'MY_KEK' } } }, { env: { ...production, GATEHOUSE_PKI_KEY: SECRETS.GATEHOUSE_PKI_KEY, GATEHOUSE_KEY_ENCRYPTION_SECRET: SECRETS.GATEHOUSE_KEY_ENCRYPTION_SECRET } }));
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0]!, /^identity\.signing\.keyEncryptionSecret: not allowed in production: .*MY_KEK/);
  });

  it('accepts production with both secrets from the environment or the file, and without the PKI key when the CA is off', () => {
    assert.equal(parseConfig(tls, { env: { ...production, ...SECRETS } }).config.mode, 'production');
    assert.equal(parseConfig({ ...tls, pki: { key: 'q'.repeat(32) }, identity: { signing: { keyEncryptionSecret: 'x'.repeat(43) } } }, { env: production }).config.mode, 'production');
    assert.equal(parseConfig({ ...tls, pki: { enabled: false } }, { env: { ...production, GATEHOUSE_KEY_ENCRYPTION_SECRET: SECRETS.GATEHOUSE_KEY_ENCRYPTION_SECRET } }).config.mode, 'production');
  });

  it('refuses `mode: development` in a file read with NODE_ENV=production (it would allow every development convenience)', () => {
    const problems = problemsOf(() => parseConfig({ ...tls, mode: 'development' }, { env: { ...production, ...SECRETS } }));
    assert.ok(problems.some((p) => /^mode: .*NODE_ENV=production/.test(p)), problems.join('\n'));
  });

  it('still lists the development conveniences of such a file as refused', () => {
    const problems = problemsOf(() => parseConfig({ mode: 'development', upstreams: { a: { url: 'http://10.0.0.5' } } }, { env: { ...production, ...SECRETS } }));
    assert.ok(problems.some((p) => p.startsWith('listeners.https.tls: not allowed in production')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('upstreams.a.url: not allowed in production')), problems.join('\n'));
  });

  it('accepts `mode: production` with NODE_ENV=production, and `mode: production` alone (stricter than the environment)', () => {
    assert.equal(parseConfig({ ...tls, mode: 'production' }, { env: { ...production, ...SECRETS } }).config.mode, 'production');
    assert.equal(parseConfig({ ...tls, mode: 'production' }, { env: SECRETS }).config.mode, 'production');
  });

  it('keeps `mode: development` working outside production', () => {
    const loaded = parseConfig({ mode: 'development' }, { env: { NODE_ENV: 'test' } });
    assert.equal(loaded.config.mode, 'development');
    assert.ok(loaded.warnings.length > 0, 'the generated certificate is still warned about');
  });
});
