/**
 * A revocation is saved before its CRL is published. When publishing fails, the revocation
 * must not wait until the stored CRL is half expired (minutes by default, days at the longest
 * lifetime): the next CRL read publishes a CRL that lists it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatehouseError } from '../../src/core/errors.ts';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { MemoryPkiRepository } from '../../src/pki/memory-repository.ts';
import { CrlWatcher } from '../../src/pki/mtls/crl-watcher.ts';
import { generateKeyAndCsr } from '../../src/pki/mtls/rotator.ts';
import type { CrlRecord } from '../../src/pki/repository.ts';
import type { TrustStore } from '../../src/pki/trust-store.ts';
import { caFixture, TRUST_DOMAIN } from './support/ca-fixture.ts';
import { openssl } from './support/openssl.ts';

const ID = `spiffe://${TRUST_DOMAIN}/svc/mail`;

/** A store whose CRL inserts fail while `failing` is set (the store dropped the connection). */
class FlakyCrlRepository extends MemoryPkiRepository {
  failing = false;
  override async insertCrl(record: CrlRecord): Promise<boolean> {
    if (this.failing) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'connection lost' });
    return super.insertCrl(record);
  }
}

describe('a revocation whose CRL could not be published', () => {
  it('is on the CRL the next read returns (and every watcher refuses it at its next refresh), not half a CRL lifetime later', async () => {
    const repo = new FlakyCrlRepository();
    // The longest CRL lifetime: the stored CRL would otherwise be served for 3.5 days.
    const f = await caFixture({ repo, config: { crl: { path: '/.well-known/gatehouse/crl', lifetimeSeconds: 7 * 86400, refreshIntervalSeconds: 30 } } });
    try {
      const csr = await generateKeyAndCsr(ID);
      const issued = await f.ca.issue({ csr: csr.csrPem, spiffeId: ID });
      let trust: TrustStore | undefined;
      const watcher = new CrlWatcher({ ca: f.ca, onChange: (t) => { trust = t; } });
      await watcher.refresh();
      const before = await f.ca.currentCrl();
      assert.equal(trust!.isRevoked(issued.serial), false);

      repo.failing = true;
      await assert.rejects(f.ca.revoke({ serial: issued.serial }, 'keyCompromise'), { code: 'ERR_STORE_UNAVAILABLE' });
      assert.notEqual((await repo.getCertificate(issued.serial))?.revokedAt, null, 'the revocation itself is saved');
      repo.failing = false;

      const next = await f.ca.currentCrl();
      assert.equal(next.number, before.number + 1);
      await watcher.refresh();
      assert.equal(trust!.isRevoked(issued.serial), true);

      // openssl agrees: the certificate is revoked on the CRL now served.
      const crlPath = await f.write('crl.pem', crlToPem(next.der));
      const rootCrlPath = await f.write('root-crl.pem', f.ca.rootCrlPems.join(''));
      const leafPath = await f.write('leaf.pem', issued.certificatePem);
      const v = await openssl(['verify', '-crl_check_all', '-CAfile', f.rootPath, '-untrusted', f.intermediatePath, '-CRLfile', crlPath, '-CRLfile', rootCrlPath, leafPath]);
      assert.notEqual(v.code, 0);
      assert.match(v.stderr + v.stdout, /certificate revoked/);

      // Once published, reads serve the stored CRL again instead of signing one per read.
      assert.equal((await f.ca.currentCrl()).number, next.number);
    } finally { await f.cleanup(); }
  });
});
