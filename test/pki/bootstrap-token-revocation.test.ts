/**
 * Revoking bootstrap tokens. A token handed to the wrong place, or of an identity whose
 * certificates were revoked, used to stay good until it expired (up to 30 days): whoever held
 * it could get a certificate of that identity. Now `bootstrap-token revoke <id>` and
 * `cert revoke --id` revoke unused tokens, and an issuance presenting one is refused with the
 * error of any invalid token.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import { bootstrapTokenCreateCommand, bootstrapTokenListCommand, bootstrapTokenRevokeCommand, certRevokeCommand, type PkiCommandContext } from '../../src/pki/commands/index.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import { caFixture, PUBLIC_URL, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;
const OTHER = `spiffe://${TRUST_DOMAIN}/svc/other`;

function commandContext(f: CaFixture): PkiCommandContext {
  return { repo: f.repo, config: pkiSchema.parse({ trustDomain: TRUST_DOMAIN }), publicUrl: PUBLIC_URL, masterKey: f.masterKey, onEvent: (e) => f.events.push(e) };
}

describe('bootstrap token revocation', () => {
  it('refuses an issuance with a revoked bootstrap token (ERR_PKI_BOOTSTRAP_TOKEN_INVALID) and records the revocation as an event', async () => {
    const f = await caFixture();
    try {
      const ctx = commandContext(f);
      const t = await bootstrapTokenCreateCommand(ctx, { spiffeId: ID });
      assert.deepEqual(await bootstrapTokenRevokeCommand(ctx, t.id), { id: t.id, spiffeId: ID });
      const csr = await generateKeyAndCsr(ID);
      await assert.rejects(f.ca.issueWithBootstrapToken(csr.csrPem, t.token), { code: 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' });
      assert.deepEqual(f.events.filter((e) => e.type === 'pki.bootstrap_token.revoked'), [{ type: 'pki.bootstrap_token.revoked', tokenIds: [t.id], target: t.id }]);
      assert.deepEqual(await bootstrapTokenListCommand(ctx), [], 'a revoked token is gone');
    } finally { await f.cleanup(); }
  });

  it('refuses to revoke a used token (ERR_ADMIN_INPUT_INVALID naming cert revoke) and an unknown one (ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND)', async () => {
    const f = await caFixture();
    try {
      const ctx = commandContext(f);
      const t = await bootstrapTokenCreateCommand(ctx, { spiffeId: ID });
      await f.ca.issueWithBootstrapToken((await generateKeyAndCsr(ID)).csrPem, t.token);
      await assert.rejects(bootstrapTokenRevokeCommand(ctx, t.id), (e: { code: string; detail?: string }) => {
        assert.equal(e.code, 'ERR_ADMIN_INPUT_INVALID');
        assert.match(e.detail ?? '', /was used at .*cert revoke --id spiffe:\/\//);
        return true;
      });
      await assert.rejects(bootstrapTokenRevokeCommand(ctx, 'AAAAAAAAAAAAAAAA'), { code: 'ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND', status: 404 });
      assert.deepEqual((await bootstrapTokenListCommand(ctx)).map((r) => [r.id, r.status]), [[t.id, 'used']]);
    } finally { await f.cleanup(); }
  });

  it('cert revoke --id also revokes the identity\'s unused bootstrap tokens, so none of them gets it a new certificate; other identities\' tokens stay valid', async () => {
    const f = await caFixture();
    try {
      const ctx = commandContext(f);
      await f.ca.issue({ csr: (await generateKeyAndCsr(ID)).csrPem, spiffeId: ID });
      const a = await bootstrapTokenCreateCommand(ctx, { spiffeId: ID });
      const b = await bootstrapTokenCreateCommand(ctx, { spiffeId: ID });
      const other = await bootstrapTokenCreateCommand(ctx, { spiffeId: OTHER });
      const r = await certRevokeCommand(ctx, { spiffeId: ID, reason: 'keyCompromise' });
      assert.equal(r.revoked.length, 1);
      assert.deepEqual(r.bootstrapTokensRevoked?.sort(), [a.id, b.id].sort());
      for (const t of [a, b]) {
        await assert.rejects(f.ca.issueWithBootstrapToken((await generateKeyAndCsr(ID)).csrPem, t.token), { code: 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' });
      }
      assert.equal((await f.ca.issueWithBootstrapToken((await generateKeyAndCsr(OTHER)).csrPem, other.token)).spiffeId, OTHER);
      // --serial revokes certificates only: it names no identity.
      assert.equal((await certRevokeCommand(ctx, { serial: r.revoked[0]! })).bootstrapTokensRevoked, undefined);
    } finally { await f.cleanup(); }
  });
});
