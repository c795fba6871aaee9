/** The public keys `verify` trusts: the configured signing key's public half, the configured old keys, and any given on the command line. */
import { access } from 'node:fs/promises';
import type { JWK } from 'jose';
import type { Config } from '../../core/config/schema.ts';
import { auditPaths } from '../extension.ts';
import { loadTrustedKeys } from '../signing-key.ts';

export async function trustedKeysFor(config: Pick<Config, 'dataDir' | 'audit'>, extraFiles: readonly string[] = []): Promise<JWK[]> {
  const { signingKeyFile } = auditPaths(config);
  const files = [...config.audit.trustedKeyFiles, ...extraFiles];
  const present = await access(signingKeyFile).then(() => true, () => false);
  return loadTrustedKeys(present ? [signingKeyFile, ...files] : files);
}
