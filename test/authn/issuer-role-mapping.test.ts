/**
 * An external issuer that names its own principals (`principals: claims`) put any role it liked
 * in its tokens and Gatehouse took it: a partner's IdP could grant its users `admin`, and every
 * policy trusting that role. `roleMapping` says which of its role names become which Gatehouse
 * roles (others dropped, as federation's roleMapping does); without one, every role is taken —
 * a development convenience, warned about and refused in production.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { certificateThumbprint } from '../../src/authn/jwt/thumbprint-keys.ts';
import { ConfigError, parseConfig } from '../../src/core/config/load.ts';
import { call } from './support/harness.ts';
import { createSetup, sign, X5T_ISSUER, type Setup } from './support/setup.ts';

describe('roles asserted by an external issuer', () => {
  let s: Setup;
  before(async () => { s = await createSetup({ x5tRoleMapping: { 'partner-reader': ['reader', 'partner'], admin: [] } }); });
  after(async () => { await s?.close(); });

  const token = (roles: unknown) => sign(s.trusted.key, { alg: 'ES256', 'x5t#S256': certificateThumbprint(s.trusted.cert) }, { iss: X5T_ISSUER, roles });

  it('an issuer with a roleMapping that puts admin in its token does not get admin (attack: self-granted role → dropped)', async () => {
    const r = await call(s.harness.url, { headers: { authorization: `Bearer ${await token(['admin', 'partner-reader', 'operator'])}` } });
    assert.equal(r.status, 200);
    assert.deepEqual([...r.body.roles].sort(), ['partner', 'reader']);
  });

  it('role names that are Object.prototype members map to nothing (no "constructor" role from a prototype lookup)', async () => {
    const r = await call(s.harness.url, { headers: { authorization: `Bearer ${await token(['constructor', '__proto__', 'toString'])}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.roles, []);
  });
});

describe('configuration of an external issuer without a roleMapping', () => {
  const issuer = { issuer: 'https://partner.example', algorithms: ['ES256'], keys: { type: 'jwks', url: 'https://partner.example/jwks' } };
  const tls = { listeners: { https: { tls: { cert: 'c.pem', key: 'k.pem' } } } };

  it('production refuses it, naming authn.issuers.0.roleMapping', () => {
    const env = { NODE_ENV: 'production', GATEHOUSE_PKI_KEY: 'p'.repeat(40), GATEHOUSE_KEY_ENCRYPTION_SECRET: 'k'.repeat(43) };
    let problems: string[] = [];
    try {
      parseConfig({ ...tls, authn: { issuers: [issuer] } }, { env });
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      problems = err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
    }
    assert.ok(problems.some((p) => p.startsWith('authn.issuers.0.roleMapping: not allowed in production: ')), problems.join('\n'));
  });

  it('development warns about it; with a roleMapping, or with principals: directory, nothing is said', () => {
    const warnings = (i: Record<string, unknown>) => parseConfig({ authn: { issuers: [i] } }, { env: {} }).warnings.map((w) => w.path.join('.'));
    assert.ok(warnings(issuer).includes('authn.issuers.0.roleMapping'));
    assert.ok(!warnings({ ...issuer, roleMapping: {} }).includes('authn.issuers.0.roleMapping'));
    assert.ok(!warnings({ ...issuer, principals: 'directory' }).includes('authn.issuers.0.roleMapping'));
  });
});
