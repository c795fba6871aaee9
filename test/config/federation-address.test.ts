/**
 * A federation provider configured at a non-public address its privateNetworks does not list
 * would have every sign-in refused by the address guard: the config is refused instead, naming
 * identity.federation.<name>.privateNetworks and the network to list.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';

function problemsOf(issuer: string, extra: Record<string, unknown> = {}): string[] {
  try {
    parseConfig({ identity: { federation: { corp: { issuer, clientId: 'gatehouse', ...extra } } } }, { env: { NODE_ENV: 'test' } });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  return [];
}

describe('identity.federation.<name>.privateNetworks against the issuer address', () => {
  for (const [issuer, network] of [['https://127.0.0.1:9000', '127.0.0.1/32'], ['https://10.0.0.5', '10.0.0.5/32'], ['https://[fd00::5]', 'fd00::5/128'], ['https://localhost:8080', '127.0.0.1/32'], ['https://kc.localhost', '127.0.0.1/32']] as const) {
    it(`refuses issuer ${issuer} while privateNetworks does not list it, suggesting ${network}`, () => {
      const problems = problemsOf(issuer);
      assert.equal(problems.length, 1, problems.join('; '));
      assert.match(problems[0]!, /^identity\.federation\.corp\.privateNetworks: the issuer's host .* is not a public address/);
      assert.ok(problems[0]!.includes(`(e.g. ${network})`), problems[0]);
    });
  }

  it('accepts the same issuers once their network is listed', () => {
    assert.deepEqual(problemsOf('https://127.0.0.1:9000', { privateNetworks: ['127.0.0.0/8'] }), []);
    assert.deepEqual(problemsOf('https://10.0.0.5', { privateNetworks: ['10.0.0.0/8'] }), []);
    assert.deepEqual(problemsOf('https://[fd00::5]', { privateNetworks: ['fd00::/8'] }), []);
    assert.deepEqual(problemsOf('https://localhost:8080', { privateNetworks: ['::1/128'] }), []);
  });

  it('refuses a listed network that does not hold the issuer', () => {
    assert.equal(problemsOf('https://10.0.0.5', { privateNetworks: ['192.168.0.0/16'] }).length, 1);
  });

  it('leaves public addresses and names other than localhost to the guard at connection time', () => {
    assert.deepEqual(problemsOf('https://203.0.114.7'), []);
    assert.deepEqual(problemsOf('https://idp.example.com'), []);
  });
});
