/**
 * A workload's certificate state on disk, so that a restart reuses its key and certificate
 * instead of needing a new bootstrap token:
 *
 *   <dir>/key.pem     PKCS#8 private key, mode 0600 (a looser mode is refused at load)
 *   <dir>/cert.pem    leaf + intermediate, mode 0600
 *   <dir>/trust.json  last verified trust material (roots, intermediates, CRLs)
 *
 * Files are replaced atomically (write to a temporary name, fsync, rename), so a crash
 * never leaves half a key. The key and certificate are two renames apart, so a new pair is
 * first written whole to <dir>/pending.json (0600, one atomic rename) and removed only once
 * both files are in place: a crash anywhere in between leaves pending.json behind, and the
 * next load finishes the swap from it instead of finding a key that does not match its
 * certificate (which would need a new bootstrap token to get out of).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { GatehouseError } from '../../core/errors.ts';
import type { TrustAnswer } from './pki-api-client.ts';

export const KEY_FILE = 'key.pem';
export const CERT_FILE = 'cert.pem';
export const TRUST_FILE = 'trust.json';
/** A new key and chain being put in place (see the header): `{ "keyPem": …, "chainPem": … }`. */
export const PENDING_FILE = 'pending.json';

const pendingSchema = z.object({ keyPem: z.string().min(1), chainPem: z.string().min(1) });

const trustFileSchema = z.object({
  trustDomain: z.string(), roots: z.string(), intermediates: z.string(),
  crls: z.array(z.string()).min(1), crlNumber: z.number().int().nonnegative(),
});

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  // 'wx' + mode at creation: the content is never readable by others, not even briefly.
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Makes the renames and removals done in `dir` so far survive a power cut. */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } finally {
    await handle?.close();
  }
}

/** Reads and writes one workload's key, certificate chain and trust material. */
export class MaterialStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates the directory (0700) when missing. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * The stored key and chain, or undefined when there are none.
   * @throws GatehouseError ERR_PKI_CLIENT_KEY_PERMISSIONS when the key file is accessible
   *   to group or others; ERR_PKI_CLIENT_STATE_INVALID when only one of the two exists.
   */
  async load(): Promise<{ keyPem: string; chainPem: string } | undefined> {
    await this.#finishPending();
    const keyPath = join(this.dir, KEY_FILE);
    let mode: number;
    try {
      mode = (await stat(keyPath)).mode;
    } catch (error) {
      if (!isMissing(error)) throw error;
      try { await stat(join(this.dir, CERT_FILE)); } catch (e) { if (isMissing(e)) return undefined; throw e; }
      throw new GatehouseError('ERR_PKI_CLIENT_STATE_INVALID', { detail: `${CERT_FILE} without ${KEY_FILE} in ${this.dir}` });
    }
    if ((mode & 0o077) !== 0) {
      throw new GatehouseError('ERR_PKI_CLIENT_KEY_PERMISSIONS', { detail: `${keyPath} has mode ${(mode & 0o777).toString(8)}; it must not be accessible to group or others (chmod 600)` });
    }
    const keyPem = await readFile(keyPath, 'utf8');
    let chainPem: string;
    try { chainPem = await readFile(join(this.dir, CERT_FILE), 'utf8'); } catch (error) {
      if (isMissing(error)) throw new GatehouseError('ERR_PKI_CLIENT_STATE_INVALID', { detail: `${KEY_FILE} without ${CERT_FILE} in ${this.dir}` });
      throw error;
    }
    return { keyPem, chainPem };
  }

  /** Replaces key and chain; a crash part-way is finished by the next `load` (see the header). */
  async save(material: { keyPem: string; chainPem: string }): Promise<void> {
    await writeAtomic(join(this.dir, PENDING_FILE), JSON.stringify({ keyPem: material.keyPem, chainPem: material.chainPem }), 0o600);
    await syncDir(this.dir);
    await this.#install(material);
  }

  /** Puts a pair in place, then drops the pending copy once both renames are durable. */
  async #install(material: { keyPem: string; chainPem: string }): Promise<void> {
    await writeAtomic(join(this.dir, KEY_FILE), material.keyPem, 0o600);
    await writeAtomic(join(this.dir, CERT_FILE), material.chainPem, 0o600);
    // In case the files pre-existed with a wider mode and the umask kept it (rename keeps the new file's mode, but be explicit).
    await chmod(join(this.dir, KEY_FILE), 0o600);
    await syncDir(this.dir);
    await rm(join(this.dir, PENDING_FILE), { force: true });
    await syncDir(this.dir);
  }

  /** A pair left pending by a save that did not finish is put in place before anything is read. */
  async #finishPending(): Promise<void> {
    const path = join(this.dir, PENDING_FILE);
    let mode: number;
    try {
      mode = (await stat(path)).mode;
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    if ((mode & 0o077) !== 0) {
      throw new GatehouseError('ERR_PKI_CLIENT_KEY_PERMISSIONS', { detail: `${path} has mode ${(mode & 0o777).toString(8)}; it holds a private key and must not be accessible to group or others (chmod 600)` });
    }
    let parsed: { keyPem: string; chainPem: string };
    try {
      parsed = pendingSchema.parse(JSON.parse(await readFile(path, 'utf8')));
    } catch (error) {
      // Written by one atomic rename, so never half a file: something else wrote it.
      throw new GatehouseError('ERR_PKI_CLIENT_STATE_INVALID', { detail: `${path} is not a pending key and certificate; remove it to use ${KEY_FILE} and ${CERT_FILE}`, cause: error });
    }
    await this.#install(parsed);
  }

  /** The last trust material saved, or undefined. It is verified again before use. */
  async loadTrust(): Promise<TrustAnswer | undefined> {
    let text: string;
    try { text = await readFile(join(this.dir, TRUST_FILE), 'utf8'); } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    let value: unknown;
    try { value = JSON.parse(text); } catch { return undefined; }
    const parsed = trustFileSchema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  }

  async saveTrust(answer: TrustAnswer): Promise<void> {
    await writeAtomic(join(this.dir, TRUST_FILE), JSON.stringify(answer), 0o644);
  }
}
