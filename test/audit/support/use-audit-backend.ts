/**
 * The setup the per-backend audit and detection suites share, in one place: a fresh
 * database, a migrated store on it and, when asked, a signing key, made before the suite's
 * tests and torn down after them (the store closed, awaited, before its database or
 * directory is removed: a store still open could write there after the removal).
 *
 * Suites whose setup differs (several stores, another pool size, a key written to a file)
 * keep their own hooks, alongside this one or instead of it.
 */
import { after, before } from 'node:test';
import { generateSigningJwk, signingKeyFromJwk, type AuditSigningKey } from '../../../src/audit/signing-key.ts';
import type { Store } from '../../../src/store/index.ts';
import type { AuditBackend, TestDatabase } from './backends.ts';

/** What a suite tests against; the fields are set in `before`, not when the suite is defined. */
export interface AuditBackendUnderTest {
  readonly db: TestDatabase;
  readonly store: Store;
}

export interface SignedAuditBackendUnderTest extends AuditBackendUnderTest {
  /** A fresh Ed25519 audit signing key. */
  readonly key: AuditSigningKey;
}

/**
 * Registers, in the calling `describe`, the `before` hook that opens `backend` and the
 * `after` hook that closes it, and returns the object those hooks fill in. Hooks the suite
 * registers after this call run after this `before` (the store is open) and before this
 * `after`.
 *
 * @example
 * for (const backend of await backends()) {
 *   describe(`audit tamper evidence on ${backend.name}`, { skip: backend.skip }, () => {
 *     const env = useAuditBackend(backend, { key: true });
 *     it('…', async () => { await writeChain(env.store, { chain: 'c1', records: 10, key: env.key, spoolRoot: env.db.dir }); });
 *   });
 * }
 */
export function useAuditBackend(backend: AuditBackend, options: { key: true }): SignedAuditBackendUnderTest;
export function useAuditBackend(backend: AuditBackend, options?: { key?: false }): AuditBackendUnderTest;
export function useAuditBackend(backend: AuditBackend, options: { key?: boolean } = {}): AuditBackendUnderTest {
  const opened: { db?: TestDatabase; store?: Store; key?: AuditSigningKey } = {};
  before(async () => {
    opened.db = await backend.create();
    opened.store = await opened.db.open();
    if (options.key) opened.key = await signingKeyFromJwk(await generateSigningJwk());
  });
  after(async () => {
    await opened.store?.close();
    await opened.db?.drop();
  });
  return opened as SignedAuditBackendUnderTest;
}
