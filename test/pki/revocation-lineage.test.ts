/**
 * Revoking a serial revokes the certificates renewed from it. A thief of a service's key
 * renews first; the operator revokes the serial they know (the stolen one). The renewed
 * certificate must fall with it, judged by `openssl s_client` against the mTLS guard,
 * while certificates that merely share the identity stay valid.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import { CertificateAuthority, type IssuedCertificate } from '../../src/pki/authority.ts';
import { crlToPem } from '../../src/pki/crl-builder.ts';
import { MemoryPkiRepository } from '../../src/pki/memory-repository.ts';
import type { CertificateQuery, CertificateRecord } from '../../src/pki/repository.ts';
import { caFixture, PUBLIC_URL, TRUST_DOMAIN, type CaFixture } from './support/ca-fixture.ts';
import { startGuardedServer, type GuardedServer } from './support/mtls-server.ts';
import { makeCsr, openssl } from './support/openssl.ts';

const GATEWAY = `spiffe://${TRUST_DOMAIN}/gateway/edge`;
const MAIL = `spiffe://${TRUST_DOMAIN}/svc/mail`;

interface Client { issued: IssuedCertificate; keyPath: string; certPath: string }

describe('revocation by serial follows renewals (openssl s_client as client)', () => {
  let f: CaFixture;
  let s: GuardedServer;
  let n = 0;

  async function write(name: string, issued: IssuedCertificate, keyPath: string): Promise<Client> {
    return { issued, keyPath, certPath: await f.write(`${name}.crt`, issued.certificatePem) };
  }

  /** A first certificate for MAIL, as an admin would issue it. */
  async function issue(): Promise<Client> {
    const name = `c${++n}`;
    const csr = await makeCsr(f.dir, name, 'ec-p256');
    return write(name, await f.ca.issue({ csr: csr.csrPem, spiffeId: MAIL }), csr.keyPath);
  }

  /** Renews by presenting `current` (as the renewal endpoint does with the mTLS client certificate), with a new key. */
  async function renew(current: Client): Promise<Client> {
    const name = `c${++n}`;
    const csr = await makeCsr(f.dir, name, 'ec-p256');
    return write(name, await f.ca.renew(csr.csrPem, current.issued.certificatePem), csr.keyPath);
  }

  async function request(c: Client) {
    return openssl(['s_client', '-connect', `127.0.0.1:${s.port}`, '-servername', 'localhost', '-CAfile', f.rootPath, '-verify_return_error', '-ign_eof', '-quiet',
      '-cert', c.certPath, '-key', c.keyPath], 'GET /probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  }

  /** What every instance does when its CrlWatcher sees the new CRL. */
  async function loadCrl() {
    s.guard.update({ trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)) });
  }

  function lastRevokedEvent() {
    return f.events.filter((e) => e.type === 'pki.certificate.revoked').at(-1) as Extract<CaFixture['events'][number], { type: 'pki.certificate.revoked' }> | undefined;
  }

  before(async () => {
    f = await caFixture();
    const srv = await makeCsr(f.dir, 'server', 'ec-p256', 'DNS:localhost,IP:127.0.0.1');
    const issued = await f.ca.issue({ csr: srv.csrPem, spiffeId: GATEWAY, allowedDnsNames: ['localhost'], allowedIpAddresses: ['127.0.0.1'] });
    const material = { keyPem: srv.keyPem, chainPem: issued.chainPem, spiffeId: GATEWAY, serial: issued.serial, notBefore: issued.notBefore, notAfter: issued.notAfter };
    s = await startGuardedServer({ material, trust: f.ca.trustStore(crlToPem((await f.ca.currentCrl()).der)), policy: { allowedSpiffeIds: [MAIL] } });
  });
  after(async () => { await s?.close(); await f?.cleanup(); });

  it('records the serial a certificate was renewed from', async () => {
    const stolen = await issue();
    const renewed = await renew(stolen);
    assert.equal((await f.ca.get(renewed.issued.serial))?.renewedFrom, stolen.issued.serial);
    assert.equal((await f.ca.get(stolen.issued.serial))?.renewedFrom, null);
  });

  it('a certificate renewed from a certificate later revoked by serial is revoked too: the gateway refuses it on mTLS', async () => {
    const stolen = await issue();
    const renewed = await renew(stolen);
    const renewedAgain = await renew(renewed);
    assert.match((await request(renewedAgain)).stdout, /HTTP\/1\.1 200/);

    const revoked = await f.ca.revoke({ serial: stolen.issued.serial }, 'keyCompromise');
    assert.deepEqual(revoked.sort(), [stolen.issued.serial, renewed.issued.serial, renewedAgain.issued.serial].sort());
    // The audit event names every serial revoked, not only the one the operator typed.
    const event = lastRevokedEvent();
    assert.equal(event?.target, stolen.issued.serial);
    assert.deepEqual([...(event?.serials ?? [])].sort(), revoked.sort());
    for (const c of [renewed, renewedAgain]) {
      const record = await f.ca.get(c.issued.serial);
      assert.notEqual(record?.revokedAt, null);
      assert.equal(record?.revocationReason, 'keyCompromise');
    }

    await loadCrl();
    for (const c of [renewed, renewedAgain]) {
      const before = s.handled.length;
      const r = await request(c);
      assert.doesNotMatch(r.stdout, /HTTP\/1\.1/);
      assert.equal(s.handled.length, before);
      const refused = s.events.filter((e) => e.type === 'pki.peer.refused').at(-1);
      assert.equal(refused?.type === 'pki.peer.refused' && refused.code, 'ERR_PKI_PEER_CERT_REVOKED');
    }
  });

  it('renewing with a certificate renewed from a revoked one is refused (ERR_PKI_RENEWAL_UNAUTHORIZED)', async () => {
    const stolen = await issue();
    const renewed = await renew(stolen);
    await f.ca.revoke({ serial: stolen.issued.serial }, 'keyCompromise');
    const csr = await makeCsr(f.dir, `c${++n}`, 'ec-p256');
    await assert.rejects(f.ca.renew(csr.csrPem, renewed.issued.certificatePem), { code: 'ERR_PKI_RENEWAL_UNAUTHORIZED' });
    await assert.rejects(f.ca.renew(csr.csrPem, stolen.issued.certificatePem), { code: 'ERR_PKI_RENEWAL_UNAUTHORIZED' });
  });

  it('revoking a renewed certificate does not revoke its parent, its siblings or other certificates of the identity', async () => {
    const parent = await issue();
    const compromised = await renew(parent);
    const fromCompromised = await renew(compromised);
    const sibling = await renew(parent);
    const unrelated = await issue();

    const revoked = await f.ca.revoke({ serial: compromised.issued.serial }, 'keyCompromise');
    assert.deepEqual(revoked.sort(), [compromised.issued.serial, fromCompromised.issued.serial].sort());
    await loadCrl();
    for (const c of [parent, sibling, unrelated]) {
      assert.equal((await f.ca.get(c.issued.serial))?.revokedAt, null);
      assert.match((await request(c)).stdout, /HTTP\/1\.1 200/);
    }
    assert.doesNotMatch((await request(fromCompromised)).stdout, /HTTP\/1\.1/);
  });

  it('revoking a serial walks through a renewal revoked earlier on its own to the renewals made from it', async () => {
    const first = await issue();
    const second = await renew(first);
    const third = await renew(second);
    // As a revocation before lineage was followed left it: `second` revoked, `third` (renewed from it) live.
    await f.repo.revoke({ serial: second.issued.serial }, new Date(), 'superseded');
    const revoked = await f.ca.revoke({ serial: first.issued.serial }, 'keyCompromise');
    assert.deepEqual(revoked.sort(), [first.issued.serial, third.issued.serial].sort());
    assert.equal((await f.ca.get(second.issued.serial))?.revocationReason, 'superseded');
  });
});

/** A store from before migration 0010, as far as the CA can tell: it returns no lineage. */
class LineagelessRepository extends MemoryPkiRepository {
  static #strip(c: CertificateRecord): CertificateRecord {
    const { renewedFrom: _dropped, ...rest } = c;
    return rest;
  }

  override async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const found = await super.getCertificate(serial);
    return found && LineagelessRepository.#strip(found);
  }

  override async listCertificates(query: CertificateQuery): Promise<CertificateRecord[]> {
    const { renewedFrom: _ignored, ...rest } = query;
    return (await super.listCertificates(rest)).map((c) => LineagelessRepository.#strip(c));
  }
}

describe('revocation by serial on a repository without lineage', () => {
  it('revokes the serial only, never certificates it cannot place in the lineage, and warns the operator to revoke the identity', async () => {
    const repo = new LineagelessRepository();
    const f = await caFixture({ repo });
    try {
      const lines: string[] = [];
      const ca = await CertificateAuthority.open({
        repo, masterKey: f.masterKey, config: pkiSchema.parse({ trustDomain: TRUST_DOMAIN }), publicUrl: PUBLIC_URL,
        logger: pino({ level: 'warn' }, { write: (line: string) => { lines.push(line); } }),
      });
      const first = await makeCsr(f.dir, 'first', 'ec-p256');
      const stolen = await ca.issue({ csr: first.csrPem, spiffeId: MAIL });
      const next = await makeCsr(f.dir, 'next', 'ec-p256');
      const renewed = await ca.renew(next.csrPem, stolen.certificatePem);
      assert.deepEqual(await ca.revoke({ serial: stolen.serial }, 'keyCompromise'), [stolen.serial]);
      assert.equal((await ca.get(renewed.serial))?.revokedAt, null);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /keeps no renewal lineage/);
      assert.match(lines[0]!, new RegExp(stolen.serial));
    } finally {
      await f.cleanup();
    }
  });
});
