/**
 * Checks the configured listener certificate and key before anything starts: a key that does
 * not belong to the certificate, an expired or not-yet-valid certificate, or material the TLS
 * library refuses is a configuration problem naming the key, reported at start. Without this a
 * mismatched pair failed only once the store, CA and keys were set up (with OpenSSL's bare
 * message), and an expired certificate was served to every client.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { ConfigProblem } from '../../core/config/load.ts';

const CERT = ['listeners', 'https', 'tls', 'cert'];
const KEY = ['listeners', 'https', 'tls', 'key'];
/** A certificate this close to its end is still used, with a warning. */
const EXPIRY_WARNING_MS = 14 * 86_400_000;

export interface CertificateCheck {
  problems: ConfigProblem[];
  /** `path: message` lines for an operator (certificate about to expire). */
  warnings: string[];
}

async function readText(file: string, path: string[], problems: ConfigProblem[]): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    problems.push({ path, message: `cannot read ${file}: ${(err as Error).message}` });
    return undefined;
  }
}

/**
 * @param now the time the certificate must be valid at (tests).
 * @example
 *   const { problems } = await checkCertificateFiles({ cert: 'tls.crt', key: 'tls.key' });
 */
export async function checkCertificateFiles(files: { cert: string; key: string }, now = Date.now()): Promise<CertificateCheck> {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const [certPem, keyPem] = [await readText(files.cert, CERT, problems), await readText(files.key, KEY, problems)];
  let cert: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (certPem !== undefined) {
    try { cert = new X509Certificate(certPem); } catch { problems.push({ path: CERT, message: `${files.cert} holds no PEM certificate` }); }
  }
  if (keyPem !== undefined) {
    // The message never quotes the file: it is a private key.
    try { key = createPrivateKey(keyPem); } catch { problems.push({ path: KEY, message: `${files.key} holds no unencrypted PEM private key` }); }
  }
  if (cert) {
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    if (notAfter <= now) problems.push({ path: CERT, message: `${files.cert} expired on ${new Date(notAfter).toISOString()}` });
    else if (notBefore > now) problems.push({ path: CERT, message: `${files.cert} is not valid before ${new Date(notBefore).toISOString()}` });
    else if (notAfter - now < EXPIRY_WARNING_MS) warnings.push(`${CERT.join('.')}: ${files.cert} expires on ${new Date(notAfter).toISOString()}`);
  }
  if (cert && key) {
    if (key.type !== 'private' || !cert.checkPrivateKey(key)) {
      problems.push({ path: KEY, message: `${files.key} is not the private key of the certificate in ${files.cert}` });
    } else {
      // What the listener will build from them: a key OpenSSL finds too small, for one.
      try { createSecureContext({ cert: certPem, key: keyPem }); } catch (err) {
        problems.push({ path: CERT, message: `refused by the TLS library: ${(err as Error).message}` });
      }
    }
  }
  return { problems, warnings };
}
