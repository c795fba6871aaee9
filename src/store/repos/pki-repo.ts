/**
 * The certificate authority's storage (src/pki/repository.ts) on SQLite and PostgreSQL.
 * Shared by every instance on the same database: one-time operations (token consumption,
 * CRL numbering, CA creation) are single conditional statements, atomic on both backends.
 */
import type { Kysely, Selectable } from 'kysely';
import { GatehouseError, isGatehouseError } from '../../core/errors.ts';
import type { CaKeyAlgorithm } from '../../pki/algorithms.ts';
import type { RevocationReason } from '../../pki/crl-builder.ts';
import type { BootstrapTokenRecord, CaRecord, CertificateRecord, CrlRecord, PendingRoot, PkiRepository, PreviousIntermediate, PreviousRoot, RevokedEntry } from '../../pki/repository.ts';
import type { Database } from '../database.ts';
import { fromJsonText, toJsonText } from '../json-text.ts';
import type { PkiBootstrapTokensTable, PkiCertificatesTable } from '../tables/pki.ts';

const CA_ID = 'default';

function strings(text: string): string[] {
  const value = fromJsonText(text);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function toCertificate(row: Selectable<PkiCertificatesTable>): CertificateRecord {
  return {
    serial: row.serial,
    spiffeId: row.spiffe_id,
    dnsNames: strings(row.dns_names),
    ipAddresses: strings(row.ip_addresses),
    notBefore: new Date(row.not_before),
    notAfter: new Date(row.not_after),
    certPem: row.cert_pem,
    issuedVia: row.issued_via as CertificateRecord['issuedVia'],
    createdAt: new Date(row.created_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
    revocationReason: row.revocation_reason as RevocationReason | null,
    renewedFrom: row.renewed_from,
  };
}

function previousIntermediates(text: string | null): PreviousIntermediate[] {
  const value = text === null ? [] : fromJsonText(text);
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is PreviousIntermediate => typeof v?.certPem === 'string' && typeof v?.keySealed === 'string')
    .map((v) => ({ certPem: v.certPem, keySealed: v.keySealed }));
}

function previousRoots(text: string | null): PreviousRoot[] {
  const value = text === null ? [] : fromJsonText(text);
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is PreviousRoot => typeof v?.certPem === 'string' && typeof v?.crlPem === 'string')
    .map((v) => ({ certPem: v.certPem, crlPem: v.crlPem }));
}

/** The pending root as stored: every field a string, `preparedAt` epoch ms. */
function pendingRoot(text: string | null): PendingRoot | null {
  if (text === null) return null;
  const v = fromJsonText(text) as Record<string, unknown> | null;
  const fields = ['rootCertPem', 'rootKeySealed', 'rootCrlPem', 'intermediateCertPem', 'intermediateKeySealed'] as const;
  // A damaged row must not pass for "no rotation under way": the CA would drop a root its relying parties were told to trust.
  if (v === null || typeof v !== 'object' || fields.some((f) => typeof v[f] !== 'string') || typeof v.preparedAt !== 'number') {
    throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'pki_ca.pending_root does not hold a pending root' });
  }
  return {
    rootCertPem: v.rootCertPem as string, rootKeySealed: v.rootKeySealed as string, rootCrlPem: v.rootCrlPem as string,
    intermediateCertPem: v.intermediateCertPem as string, intermediateKeySealed: v.intermediateKeySealed as string, preparedAt: new Date(v.preparedAt),
  };
}

function pendingRootText(p: PendingRoot | null): string | null {
  return p === null ? null : toJsonText({ ...p, preparedAt: p.preparedAt.getTime() });
}

function toToken(row: Selectable<PkiBootstrapTokensTable>): BootstrapTokenRecord {
  return {
    id: row.id, tokenHash: row.token_hash, spiffeId: row.spiffe_id,
    dnsNames: strings(row.dns_names), ipAddresses: strings(row.ip_addresses),
    createdAt: new Date(row.created_at), expiresAt: new Date(row.expires_at),
    usedAt: row.used_at === null ? null : new Date(row.used_at),
  };
}

/**
 * @example
 *   const ca = await CertificateAuthority.open({ repo: createPkiRepo(store.db), ... });
 */
export function createPkiRepo(db: Kysely<Database>): PkiRepository {
  return {
    async getCa() {
      const row = await db.selectFrom('pki_ca').selectAll().where('id', '=', CA_ID).executeTakeFirst();
      if (!row) return undefined;
      return {
        keyAlgorithm: row.key_algorithm as CaKeyAlgorithm,
        rootCertPem: row.root_cert_pem,
        rootKeySealed: row.root_key_sealed,
        intermediateCertPem: row.intermediate_cert_pem,
        intermediateKeySealed: row.intermediate_key_sealed,
        rootCrlPem: row.root_crl_pem,
        createdAt: new Date(row.created_at),
        previousIntermediates: previousIntermediates(row.previous_intermediates),
        pendingRoot: pendingRoot(row.pending_root),
        previousRoots: previousRoots(row.previous_roots),
      } satisfies CaRecord;
    },

    async insertCa(ca) {
      try {
        await db.insertInto('pki_ca').values({
          id: CA_ID, key_algorithm: ca.keyAlgorithm, root_cert_pem: ca.rootCertPem, root_key_sealed: ca.rootKeySealed,
          intermediate_cert_pem: ca.intermediateCertPem, intermediate_key_sealed: ca.intermediateKeySealed,
          root_crl_pem: ca.rootCrlPem, created_at: ca.createdAt.getTime(),
          previous_intermediates: ca.previousIntermediates.length > 0 ? toJsonText(ca.previousIntermediates) : null,
          pending_root: pendingRootText(ca.pendingRoot),
          previous_roots: ca.previousRoots.length > 0 ? toJsonText(ca.previousRoots) : null,
        }).execute();
      } catch (error) {
        if (isGatehouseError(error) && error.code === 'ERR_STORE_CONFLICT') throw new GatehouseError('ERR_PKI_ALREADY_INITIALIZED', { cause: error });
        throw error;
      }
    },

    async dropRootKey() {
      await db.updateTable('pki_ca').set({ root_key_sealed: null }).where('id', '=', CA_ID).execute();
    },

    async rotateIntermediate(r) {
      const result = await db.updateTable('pki_ca').set({
        intermediate_cert_pem: r.intermediateCertPem, intermediate_key_sealed: r.intermediateKeySealed,
        previous_intermediates: r.previousIntermediates.length > 0 ? toJsonText(r.previousIntermediates) : null,
        root_crl_pem: r.rootCrlPem,
      }).where('id', '=', CA_ID).where('intermediate_cert_pem', '=', r.expectedIntermediateCertPem).executeTakeFirst();
      return (result.numUpdatedRows ?? 0n) > 0n;
    },

    async prepareRoot(r) {
      const result = await db.updateTable('pki_ca').set({ pending_root: pendingRootText(r.pendingRoot) })
        .where('id', '=', CA_ID).where('root_cert_pem', '=', r.expectedRootCertPem).where('pending_root', 'is', null).executeTakeFirst();
      return (result.numUpdatedRows ?? 0n) > 0n;
    },

    async activateRoot(r) {
      // Read and written in one transaction: the pending root's fields move into the columns in force.
      return db.transaction().execute(async (tx) => {
        const row = await tx.selectFrom('pki_ca').select(['pending_root', 'intermediate_cert_pem']).where('id', '=', CA_ID).executeTakeFirst();
        const pending = pendingRoot(row?.pending_root ?? null);
        if (!row || !pending || pending.rootCertPem !== r.expectedPendingRootCertPem || row.intermediate_cert_pem !== r.expectedIntermediateCertPem) return false;
        const result = await tx.updateTable('pki_ca').set({
          root_cert_pem: pending.rootCertPem, root_key_sealed: pending.rootKeySealed, root_crl_pem: pending.rootCrlPem,
          intermediate_cert_pem: pending.intermediateCertPem, intermediate_key_sealed: pending.intermediateKeySealed,
          previous_intermediates: r.previousIntermediates.length > 0 ? toJsonText(r.previousIntermediates) : null,
          previous_roots: r.previousRoots.length > 0 ? toJsonText(r.previousRoots) : null,
          pending_root: null, key_algorithm: r.keyAlgorithm,
        // Conditional again: on SQLite the select takes no lock, and another activation may have written since.
        }).where('id', '=', CA_ID).where('pending_root', '=', row.pending_root).where('intermediate_cert_pem', '=', r.expectedIntermediateCertPem).executeTakeFirst();
        return (result.numUpdatedRows ?? 0n) > 0n;
      });
    },

    async cancelRoot(expectedPendingRootCertPem) {
      // Matched on the certificate inside the JSON, read and cleared in one transaction, as activation is.
      return db.transaction().execute(async (tx) => {
        const row = await tx.selectFrom('pki_ca').select('pending_root').where('id', '=', CA_ID).executeTakeFirst();
        if (pendingRoot(row?.pending_root ?? null)?.rootCertPem !== expectedPendingRootCertPem) return false;
        const result = await tx.updateTable('pki_ca').set({ pending_root: null }).where('id', '=', CA_ID).where('pending_root', '=', row!.pending_root).executeTakeFirst();
        return (result.numUpdatedRows ?? 0n) > 0n;
      });
    },

    async insertCertificate(r) {
      await db.insertInto('pki_certificates').values({
        serial: r.serial, spiffe_id: r.spiffeId, dns_names: toJsonText(r.dnsNames), ip_addresses: toJsonText(r.ipAddresses),
        not_before: r.notBefore.getTime(), not_after: r.notAfter.getTime(), cert_pem: r.certPem, issued_via: r.issuedVia,
        created_at: r.createdAt.getTime(), revoked_at: r.revokedAt?.getTime() ?? null, revocation_reason: r.revocationReason,
        renewed_from: r.renewedFrom ?? null,
      }).execute();
    },

    async getCertificate(serial) {
      const row = await db.selectFrom('pki_certificates').selectAll().where('serial', '=', serial).executeTakeFirst();
      return row && toCertificate(row);
    },

    async listCertificates(query) {
      let q = db.selectFrom('pki_certificates').selectAll();
      if (query.spiffeId !== undefined) q = q.where('spiffe_id', '=', query.spiffeId);
      if (query.renewedFrom !== undefined) q = q.where('renewed_from', '=', query.renewedFrom);
      if (query.liveAt !== undefined) {
        const t = query.liveAt.getTime();
        q = q.where('revoked_at', 'is', null).where('not_after', '>', t).where('not_before', '<=', t);
      }
      const rows = await q.orderBy('created_at', 'desc').orderBy('serial', 'asc').limit(Math.min(query.limit ?? 1000, 10_000)).execute();
      return rows.map(toCertificate);
    },

    async revoke(target, at, reason) {
      let q = db.updateTable('pki_certificates').set({ revoked_at: at.getTime(), revocation_reason: reason }).where('revoked_at', 'is', null);
      q = 'serial' in target ? q.where('serial', '=', target.serial) : q.where('spiffe_id', '=', target.spiffeId).where('not_after', '>', at.getTime());
      const rows = await q.returning('serial').execute();
      return rows.map((r) => r.serial);
    },

    async listRevoked(now) {
      const rows = await db.selectFrom('pki_certificates').select(['serial', 'revoked_at', 'revocation_reason'])
        .where('revoked_at', 'is not', null).where('not_after', '>', now.getTime()).orderBy('serial').execute();
      return rows.map((r): RevokedEntry => ({ serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: (r.revocation_reason ?? 'unspecified') as RevocationReason }));
    },

    async latestCrl() {
      const row = await db.selectFrom('pki_crls').selectAll().orderBy('number', 'desc').limit(1).executeTakeFirst();
      if (!row) return undefined;
      const previous = row.previous_ders === null ? [] : fromJsonText(row.previous_ders);
      return {
        number: Number(row.number), thisUpdate: new Date(row.this_update), nextUpdate: new Date(row.next_update), der: new Uint8Array(Buffer.from(row.der, 'base64')),
        previousDers: (Array.isArray(previous) ? previous : []).filter((d): d is string => typeof d === 'string').map((d) => new Uint8Array(Buffer.from(d, 'base64'))),
      } satisfies CrlRecord;
    },

    async insertCrl(r) {
      const result = await db.insertInto('pki_crls').values({
        number: r.number, this_update: r.thisUpdate.getTime(), next_update: r.nextUpdate.getTime(), der: Buffer.from(r.der).toString('base64'),
        previous_ders: r.previousDers.length > 0 ? toJsonText(r.previousDers.map((d) => Buffer.from(d).toString('base64'))) : null,
      }).onConflict((oc) => oc.column('number').doNothing()).executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async insertBootstrapToken(r) {
      await db.insertInto('pki_bootstrap_tokens').values({
        token_hash: r.tokenHash, id: r.id, spiffe_id: r.spiffeId, dns_names: toJsonText(r.dnsNames), ip_addresses: toJsonText(r.ipAddresses),
        created_at: r.createdAt.getTime(), expires_at: r.expiresAt.getTime(), used_at: r.usedAt?.getTime() ?? null,
      }).execute();
    },

    async findBootstrapToken(tokenHash, now) {
      const row = await db.selectFrom('pki_bootstrap_tokens').selectAll()
        .where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', now.getTime())
        .executeTakeFirst();
      return row && toToken(row);
    },

    async consumeBootstrapToken(tokenHash, now) {
      const t = now.getTime();
      const row = await db.updateTable('pki_bootstrap_tokens').set({ used_at: t })
        .where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', t)
        .returningAll().executeTakeFirst();
      return row && toToken(row);
    },

    async listBootstrapTokens(query) {
      let q = db.selectFrom('pki_bootstrap_tokens').selectAll();
      if (query.id !== undefined) q = q.where('id', '=', query.id);
      if (query.spiffeId !== undefined) q = q.where('spiffe_id', '=', query.spiffeId);
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'asc').limit(Math.min(query.limit ?? 1000, 10_000)).execute();
      return rows.map(toToken);
    },

    async revokeBootstrapTokens(target) {
      // One conditional DELETE … RETURNING: a consumption racing it either marked the row used
      // first (left here) or finds no row (refused).
      let q = db.deleteFrom('pki_bootstrap_tokens').where('used_at', 'is', null);
      q = 'id' in target ? q.where('id', '=', target.id) : q.where('spiffe_id', '=', target.spiffeId);
      return (await q.returningAll().execute()).map(toToken);
    },
  };
}
