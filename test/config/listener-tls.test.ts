/** listeners.https.tls: a certificate and its key come together or not at all. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

function problemsOf(document: unknown): string[] {
  try { parseConfig(document, { env: { NODE_ENV: 'test' } }); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  assert.fail('accepted');
}

describe('listener certificate configuration', () => {
  it('a certificate without its key is refused instead of being replaced by a generated self-signed certificate', () => {
    assert.deepEqual(problemsOf({ listeners: { https: { tls: { cert: '/etc/gatehouse/tls.crt' } } } }), ['listeners.https.tls.key: needed with listeners.https.tls.cert']);
  });

  it('a key without its certificate is refused the same way', () => {
    assert.deepEqual(problemsOf({ listeners: { https: { tls: { key: '/etc/gatehouse/tls.key' } } } }), ['listeners.https.tls.cert: needed with listeners.https.tls.key']);
  });

  it('both or neither are accepted', () => {
    const tlsWarnings = (document: unknown) => parseConfig(document, { env: {} }).warnings.filter((w) => w.path.join('.').startsWith('listeners.https.tls'));
    assert.equal(tlsWarnings({ listeners: { https: { tls: { cert: 'a', key: 'b' } } } }).length, 0);
    assert.equal(tlsWarnings({}).length, 1);
  });
});
