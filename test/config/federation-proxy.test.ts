/**
 * `identity.federation.<name>.proxy`: an http:// or https:// egress proxy URL whose user info
 * is a secret. Anything else is refused at the key's path, and no problem or warning quotes
 * the URL or its password.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, type ConfigProblem } from '../../src/core/config/load.ts';
import { literalSecretPaths } from '../../src/core/config/secret-file-mode.ts';

const provider = (proxy: string) => ({ identity: { federation: { corp: { issuer: 'https://idp.example', clientId: 'gatehouse', proxy } } } });

function problemsOf(doc: Record<string, unknown>, env: NodeJS.ProcessEnv = { NODE_ENV: 'test' }): ConfigProblem[] {
  try {
    parseConfig(doc, { env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.doesNotMatch(err.message + String(err.detail), /hunter2/);
    return err.problems;
  }
  return [];
}

describe('identity.federation.<name>.proxy', () => {
  it('accepts http:// and https:// proxy URLs, with or without user info', () => {
    for (const url of ['http://proxy.internal:3128', 'https://proxy.internal', 'http://svc:s3cret@10.0.0.3:3128', 'http://[fd00::3]:3128']) {
      assert.deepEqual(problemsOf(provider(url)), [], url);
    }
  });

  it('refuses a socks5://, ftp:// or path-bearing URL at identity.federation.corp.proxy, without quoting it or its password', () => {
    for (const url of ['socks5://svc:hunter2@proxy.internal:1080', 'ftp://svc:hunter2@proxy.internal', 'http://svc:hunter2@proxy.internal:3128/pac', 'proxy.internal:3128', 'http://svc:hunter2%zz@proxy.internal']) {
      const problems = problemsOf(provider(url));
      assert.equal(problems.length, 1, `${url}: ${JSON.stringify(problems)}`);
      assert.equal(problems[0]!.path.join('.'), 'identity.federation.corp.proxy');
      assert.doesNotMatch(problems[0]!.message, /hunter2|proxy\.internal/);
    }
  });

  it('a proxy URL substituted from the environment is refused by the variable\'s name, its password never quoted', () => {
    const problems = problemsOf(provider('${CORP_PROXY}'), { NODE_ENV: 'test', CORP_PROXY: 'socks5://svc:hunter2@proxy.internal:1080' });
    assert.equal(problems[0]!.path.join('.'), 'identity.federation.corp.proxy');
    assert.doesNotMatch(JSON.stringify(problems), /hunter2/);
  });

  it('production refuses credentials sent over http:// to a non-loopback proxy; the refusal does not quote them', () => {
    const production = { NODE_ENV: 'production', GATEHOUSE_PKI_KEY: 'p'.repeat(40), GATEHOUSE_KEY_ENCRYPTION_SECRET: 'k'.repeat(43) };
    const problems = problemsOf({ listeners: { https: { tls: { cert: 'c.pem', key: 'k.pem' } } }, ...provider('http://svc:hunter2@proxy.internal:3128') }, production);
    const refusal = problems.find((p) => p.path.join('.') === 'identity.federation.corp.proxy');
    assert.ok(refusal, JSON.stringify(problems));
    assert.match(refusal.message, /^not allowed in production: proxy credentials sent over plain HTTP/);
    assert.doesNotMatch(JSON.stringify(problems), /hunter2/);
  });

  it('a proxy password written in the configuration file counts as a secret written in it (file-mode warning), a ${VAR} does not', () => {
    assert.deepEqual(literalSecretPaths(provider('http://svc:s3cret@proxy.internal:3128')), ['identity.federation.corp.proxy']);
    assert.deepEqual(literalSecretPaths(provider('http://svc:${PROXY_PASSWORD}@proxy.internal:3128')), []);
    assert.deepEqual(literalSecretPaths(provider('http://proxy.internal:3128')), []);
  });

  it('a proxy token written as the URL\'s user name alone (http://TOKEN@proxy, sent as Basic TOKEN:) counts as a secret written in the file (file-mode warning); ${VAR} does not', () => {
    for (const url of ['http://tok3n-5ecret@proxy.internal:3128', 'https://tok3n-5ecret:@proxy.internal:3129']) {
      assert.deepEqual(literalSecretPaths(provider(url)), ['identity.federation.corp.proxy'], url);
    }
    for (const url of ['http://${PROXY_TOKEN}@proxy.internal:3128', 'http://svc:${PROXY_PASSWORD}@proxy.internal:3128', 'http://:@proxy.internal:3128']) {
      assert.deepEqual(literalSecretPaths(provider(url)), [], url);
    }
  });
});
