/**
 * Looks at what the CLI left behind from the outside: opens the same configuration's store
 * in the test process, as a running Gatehouse instance would, to check that a printed
 * secret really is the stored one and that a revocation really is in force.
 */
import pino from 'pino';
import { loadConfigFile } from '../../../src/core/config/load.ts';
import { openStoreFromConfig } from '../../../src/store/open-from-config.ts';
import type { Store } from '../../../src/store/types.ts';
import { createIdentityProvider, type IdentityProvider } from '../../../src/identity/index.ts';
import { openAuthority, openPkiCommandContext } from '../../../src/pki/commands/index.ts';
import type { CertificateAuthority } from '../../../src/pki/authority.ts';

const silent = pino({ level: process.env.GH_TEST_LOG ?? 'silent' });

export async function withStore<T>(configFile: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const { config } = await loadConfigFile(configFile);
  const store = await openStoreFromConfig(config, silent);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function withIdentity<T>(configFile: string, fn: (idp: IdentityProvider, store: Store) => Promise<T>): Promise<T> {
  return withStore(configFile, async (store) => {
    const { config } = await loadConfigFile(configFile);
    const idp = await createIdentityProvider({ config, store, logger: silent, publicUrl: config.publicUrl! });
    try {
      return await fn(idp, store);
    } finally {
      await idp.close();
    }
  });
}

export function withAuthority<T>(configFile: string, fn: (ca: CertificateAuthority) => Promise<T>): Promise<T> {
  return withStore(configFile, async (store) => {
    const { config } = await loadConfigFile(configFile);
    const ctx = await openPkiCommandContext({ store, config, logger: silent });
    return fn(await openAuthority(ctx));
  });
}
