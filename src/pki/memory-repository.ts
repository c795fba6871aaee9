/**
 * In-memory PkiRepository: the reference behaviour for the contract suite, and enough for
 * a single process that does not need to keep its CA (tests, one-shot tools).
 */
import { GatehouseError } from '../core/errors.ts';
import type { BootstrapTokenQuery, BootstrapTokenRecord, CaRecord, IntermediateRotation, CertificateQuery, CertificateRecord, CrlRecord, PkiRepository, RevokedEntry, RootActivation, RootPreparation } from './repository.ts';
import type { RevocationReason } from './crl-builder.ts';

const copy = <T>(value: T): T => structuredClone(value);

export class MemoryPkiRepository implements PkiRepository {
  #ca: CaRecord | undefined;
  readonly #certs = new Map<string, CertificateRecord>();
  readonly #crls: CrlRecord[] = [];
  readonly #tokens = new Map<string, BootstrapTokenRecord>();

  async getCa(): Promise<CaRecord | undefined> {
    return this.#ca && copy(this.#ca);
  }

  async insertCa(ca: CaRecord): Promise<void> {
    if (this.#ca) throw new GatehouseError('ERR_PKI_ALREADY_INITIALIZED');
    this.#ca = copy(ca);
  }

  async dropRootKey(): Promise<void> {
    if (this.#ca) this.#ca.rootKeySealed = null;
  }

  async rotateIntermediate(r: IntermediateRotation): Promise<boolean> {
    if (!this.#ca || this.#ca.intermediateCertPem !== r.expectedIntermediateCertPem) return false;
    Object.assign(this.#ca, copy({
      intermediateCertPem: r.intermediateCertPem, intermediateKeySealed: r.intermediateKeySealed,
      previousIntermediates: r.previousIntermediates, rootCrlPem: r.rootCrlPem,
    }));
    return true;
  }

  async prepareRoot(r: RootPreparation): Promise<boolean> {
    if (!this.#ca || this.#ca.pendingRoot !== null || this.#ca.rootCertPem !== r.expectedRootCertPem) return false;
    this.#ca.pendingRoot = copy(r.pendingRoot);
    return true;
  }

  async activateRoot(r: RootActivation): Promise<boolean> {
    const pending = this.#ca?.pendingRoot;
    if (!this.#ca || !pending || pending.rootCertPem !== r.expectedPendingRootCertPem || this.#ca.intermediateCertPem !== r.expectedIntermediateCertPem) return false;
    Object.assign(this.#ca, copy({
      rootCertPem: pending.rootCertPem, rootKeySealed: pending.rootKeySealed, rootCrlPem: pending.rootCrlPem,
      intermediateCertPem: pending.intermediateCertPem, intermediateKeySealed: pending.intermediateKeySealed,
      previousIntermediates: r.previousIntermediates, previousRoots: r.previousRoots, pendingRoot: null, keyAlgorithm: r.keyAlgorithm,
    }));
    return true;
  }

  async cancelRoot(expectedPendingRootCertPem: string): Promise<boolean> {
    if (!this.#ca || this.#ca.pendingRoot?.rootCertPem !== expectedPendingRootCertPem) return false;
    this.#ca.pendingRoot = null;
    return true;
  }

  async insertCertificate(record: CertificateRecord): Promise<void> {
    if (this.#certs.has(record.serial)) throw new GatehouseError('ERR_STORE_CONFLICT', { detail: `serial ${record.serial} exists` });
    this.#certs.set(record.serial, copy(record));
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const found = this.#certs.get(serial);
    return found && copy(found);
  }

  async listCertificates(query: CertificateQuery): Promise<CertificateRecord[]> {
    const at = query.liveAt?.getTime();
    return [...this.#certs.values()]
      .filter((c) => query.spiffeId === undefined || c.spiffeId === query.spiffeId)
      .filter((c) => query.renewedFrom === undefined || c.renewedFrom === query.renewedFrom)
      .filter((c) => at === undefined || (c.revokedAt === null && c.notAfter.getTime() > at && c.notBefore.getTime() <= at))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.serial < b.serial ? -1 : 1))
      .slice(0, query.limit ?? Number.MAX_SAFE_INTEGER)
      .map(copy);
  }

  async revoke(target: { serial: string } | { spiffeId: string }, at: Date, reason: RevocationReason): Promise<string[]> {
    const revoked: string[] = [];
    for (const c of this.#certs.values()) {
      const hit = 'serial' in target ? c.serial === target.serial : c.spiffeId === target.spiffeId && c.notAfter.getTime() > at.getTime();
      if (hit && c.revokedAt === null) {
        c.revokedAt = new Date(at);
        c.revocationReason = reason;
        revoked.push(c.serial);
      }
    }
    return revoked;
  }

  async listRevoked(now: Date): Promise<RevokedEntry[]> {
    return [...this.#certs.values()]
      .filter((c) => c.revokedAt !== null && c.notAfter.getTime() > now.getTime())
      .map((c) => ({ serial: c.serial, revokedAt: new Date(c.revokedAt!), reason: c.revocationReason ?? 'unspecified' }));
  }

  async latestCrl(): Promise<CrlRecord | undefined> {
    const latest = this.#crls.reduce<CrlRecord | undefined>((best, c) => (best === undefined || c.number > best.number ? c : best), undefined);
    return latest && copy(latest);
  }

  async insertCrl(record: CrlRecord): Promise<boolean> {
    if (this.#crls.some((c) => c.number === record.number)) return false;
    this.#crls.push(copy(record));
    return true;
  }

  async insertBootstrapToken(record: BootstrapTokenRecord): Promise<void> {
    if (this.#tokens.has(record.tokenHash)) throw new GatehouseError('ERR_STORE_CONFLICT', { detail: 'token exists' });
    this.#tokens.set(record.tokenHash, copy(record));
  }

  async findBootstrapToken(tokenHash: string, now: Date): Promise<BootstrapTokenRecord | undefined> {
    const token = this.#tokens.get(tokenHash);
    return !token || token.usedAt !== null || token.expiresAt.getTime() <= now.getTime() ? undefined : copy(token);
  }

  async consumeBootstrapToken(tokenHash: string, now: Date): Promise<BootstrapTokenRecord | undefined> {
    const token = this.#tokens.get(tokenHash);
    if (!token || token.usedAt !== null || token.expiresAt.getTime() <= now.getTime()) return undefined;
    token.usedAt = new Date(now);
    return copy(token);
  }

  async listBootstrapTokens(query: BootstrapTokenQuery): Promise<BootstrapTokenRecord[]> {
    return [...this.#tokens.values()]
      .filter((t) => (query.id === undefined || t.id === query.id) && (query.spiffeId === undefined || t.spiffeId === query.spiffeId))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || a.id.localeCompare(b.id))
      .slice(0, Math.min(query.limit ?? 1000, 10_000)).map(copy);
  }

  async revokeBootstrapTokens(target: { id: string } | { spiffeId: string }): Promise<BootstrapTokenRecord[]> {
    const revoked = [...this.#tokens.values()].filter((t) => t.usedAt === null && ('id' in target ? t.id === target.id : t.spiffeId === target.spiffeId));
    for (const t of revoked) this.#tokens.delete(t.tokenHash);
    return revoked.map(copy);
  }
}
