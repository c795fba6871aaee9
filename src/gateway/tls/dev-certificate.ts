/**
 * Development convenience: when no certificate is configured, a self-signed certificate
 * for localhost is generated once into the data directory and reused. Production mode
 * refuses this (see config/load.ts).
 */
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface PemPair { cert: string; key: string }

export async function ensureDevCertificate(dataDir: string): Promise<PemPair & { created: boolean }> {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'localhost.crt');
  const keyFile = join(dir, 'localhost.key');
  const existing = await readUsablePair(certFile, keyFile);
  if (existing) return { ...existing, created: false };

  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  serial[0] = serial[0]! & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'CN=localhost, O=Gatehouse development',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * 86400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const certPem = cert.toString('pem');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await replaceFile(keyFile, key, 0o600);
  await replaceFile(certFile, certPem, 0o644);
  return { cert: certPem, key, created: true };
}

/**
 * The stored pair, when it can be used as it is: the key a regular file that only its owner
 * can read (a link is never followed to a key elsewhere; a key others could read is not
 * private any more), the certificate its own and valid for more than a month (regenerated a
 * month before expiry so a long-lived laptop setup keeps working).
 */
async function readUsablePair(certFile: string, keyFile: string): Promise<PemPair | undefined> {
  try {
    const st = await lstat(keyFile);
    if (!st.isFile() || (st.mode & 0o077) !== 0) return undefined;
    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    const parsed = new X509Certificate(cert);
    if (!parsed.checkPrivateKey(createPrivateKey(key))) return undefined;
    if (Date.parse(parsed.validTo) - Date.now() <= 30 * 86400_000) return undefined;
    return { cert, key };
  } catch {
    return undefined; // missing or unreadable: generate
  }
}

/**
 * Writes a new file and renames it over `file`: a link at `file` is replaced, not followed
 * (writing through it would put the private key wherever it points), and the file gets `mode`
 * even when one was there before (writeFile keeps an existing file's mode).
 */
async function replaceFile(file: string, content: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(temp, content, { mode, flag: 'wx' });
  try {
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
