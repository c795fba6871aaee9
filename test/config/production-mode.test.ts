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

describe('production mode', () => {
  it('refuses `mode: development` in a file read with NODE_ENV=production (it would allow every development convenience)', () => {
    const problems = problemsOf(() => parseConfig({ ...tls, mode: 'development' }, { env: production }));
    assert.ok(problems.some((p) => /^mode: .*NODE_ENV=production/.test(p)), problems.join('\n'));
  });

  it('still lists the development conveniences of such a file as refused', () => {
    const problems = problemsOf(() => parseConfig({ mode: 'development', upstreams: { a: { url: 'http://10.0.0.5' } } }, { env: production }));
    assert.ok(problems.some((p) => p.startsWith('listeners.https.tls: not allowed in production')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('upstreams.a.url: not allowed in production')), problems.join('\n'));
  });

  it('accepts `mode: production` with NODE_ENV=production, and `mode: production` alone (stricter than the environment)', () => {
    assert.equal(parseConfig({ ...tls, mode: 'production' }, { env: production }).config.mode, 'production');
    assert.equal(parseConfig({ ...tls, mode: 'production' }, { env: {} }).config.mode, 'production');
  });

  it('keeps `mode: development` working outside production', () => {
    const loaded = parseConfig({ mode: 'development' }, { env: { NODE_ENV: 'test' } });
    assert.equal(loaded.config.mode, 'development');
    assert.ok(loaded.warnings.length > 0, 'the generated certificate is still warned about');
  });
});
