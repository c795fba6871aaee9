/**
 * The real `openssl` binary as the outside judge of what the CA produces, and as the
 * maker of keys and CSRs the CA never sees the private half of.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OpensslResult { code: number; stdout: string; stderr: string }

/** Runs openssl; never throws on a non-zero exit (the test judges the result). */
export async function openssl(args: string[], input?: string): Promise<OpensslResult> {
  try {
    const child = run('openssl', args, { maxBuffer: 4 * 1024 * 1024, timeout: 30_000 });
    if (input !== undefined) { child.child.stdin?.end(input); }
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export async function mustOpenssl(args: string[], input?: string): Promise<string> {
  const r = await openssl(args, input);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A scratch directory removed by `cleanup()`. */
export async function scratch(): Promise<{ dir: string; path: (name: string) => string; write: (name: string, data: string | Uint8Array) => Promise<string>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pki-'));
  return {
    dir,
    path: (name) => join(dir, name),
    write: async (name, data) => { const p = join(dir, name); await writeFile(p, data); return p; },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export type KeySpec = 'ec-p256' | 'ec-p384' | 'ec-secp256k1' | 'rsa-2048' | 'rsa-2048-e3' | 'rsa-1024' | 'ed25519';

const NEWKEY: Record<KeySpec, string[]> = {
  'ec-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'ec-secp256k1': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  'rsa-2048': ['-newkey', 'rsa:2048'],
  'rsa-2048-e3': ['-newkey', 'rsa:2048', '-pkeyopt', 'rsa_keygen_pubexp:3'],
  'rsa-1024': ['-newkey', 'rsa:1024'],
  ed25519: ['-newkey', 'ed25519'],
};

export interface OpensslCsr { keyPath: string; csrPath: string; csrPem: string; keyPem: string }

/**
 * Makes a key and a CSR with `openssl req`. `sans` is an openssl subjectAltName value
 * such as "URI:spiffe://td/svc/a,DNS:a.local"; `extraExt` adds more -addext values.
 */
export async function makeCsr(dir: string, name: string, key: KeySpec, sans?: string, extraExt: string[] = []): Promise<OpensslCsr> {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const args = ['req', '-new', ...NEWKEY[key], '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${name}`];
  if (sans) args.push('-addext', `subjectAltName=${sans}`);
  for (const e of extraExt) args.push('-addext', e);
  await mustOpenssl(args);
  return { keyPath, csrPath, csrPem: await readFile(csrPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
}
