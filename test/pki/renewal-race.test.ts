/**
 * Renewal racing a revocation: an attacker holding a compromised key renews (many times in
 * parallel) while the operator revokes the identity. A renewal that passed its "not revoked"
 * check before the revocation and stored its new certificate after it must not come out
 * with a live certificate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryPkiRepository } from '../../src/pki/memory-repository.ts';
import type { CertificateRecord } from '../../src/pki/repository.ts';
import { isGatehouseError } from '../../src/core/errors.ts';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { caFixture, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { makeCsr } from './support/openssl.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/stolen`;

/** Holds the next certificate insert until released: the window between the renewal's check and its write. */
class GatedRepository extends MemoryPkiRepository {
  #gate: { reached: () => void; released: Promise<void> } | undefined;

  /** Arms the gate; resolves `reached` when an insert waits, which continues on `release()`. */
  arm(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => { reached = r; });
    const released = new Promise<void>((r) => { release = r; });
    this.#gate = { reached, released };
    return { reached: reachedP, release };
  }

  override async insertCertificate(record: CertificateRecord): Promise<void> {
    const gate = this.#gate;
    this.#gate = undefined;
    if (gate) { gate.reached(); await gate.released; }
    return super.insertCertificate(record);
  }
}

describe('renewal racing a revocation of the identity', () => {
  let f: CaFixture;
  const repo = new GatedRepository();
  before(async () => { f = await caFixture({ repo }); });
  after(async () => { await f.cleanup(); });

  it('a renewal in flight while its identity is revoked (keyCompromise) is refused and leaves no live certificate', async () => {
    const first = await makeCsr(f.dir, 'stolen-1', 'ec-p256');
    const { token } = await f.ca.createBootstrapToken({ spiffeId: ID });
    const current = await f.ca.issueWithBootstrapToken(first.csrPem, token);

    const gate = repo.arm();
    const second = await makeCsr(f.dir, 'stolen-2', 'ec-p256');
    const renewal = f.ca.renew(second.csrPem, current.certificatePem).then((issued) => ({ issued }), (error: unknown) => ({ error }));
    await gate.reached; // checked "not revoked", about to store the new certificate
    const revoked = await f.ca.revoke({ spiffeId: ID }, 'keyCompromise');
    assert.deepEqual(revoked, [current.serial]);
    gate.release();
    const outcome = await renewal;

    const live = await f.ca.list({ spiffeId: ID, liveAt: new Date() });
    assert.deepEqual(live.map((c) => c.serial), [], 'a certificate of the revoked identity is still live');
    assert.ok('error' in outcome && isGatehouseError(outcome.error) && outcome.error.code === 'ERR_PKI_RENEWAL_UNAUTHORIZED',
      `the racing renewal was not refused: ${'issued' in outcome ? `got serial ${outcome.issued.serial}` : String(outcome.error)}`);
    // Relying parties learn it from the CRL, not from the store.
    const every = await f.ca.list({ spiffeId: ID });
    const trust = f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der));
    for (const c of every) assert.equal(trust.isRevoked(c.serial), true, `serial ${c.serial} is not on the CRL`);
  });
});
