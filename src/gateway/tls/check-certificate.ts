/**
 * Checks the configured listener certificate and key before anything starts: a key that does
 * not belong to the certificate, an expired or not-yet-valid certificate, or material the TLS
 * library refuses is a configuration problem naming the key, reported at start. Without this a
 * mismatched pair failed only once the store, CA and keys were set up (with OpenSSL's bare
 * message), and an expired certificate was served to every client. The same checks run on a
 * reload that brings new certificate files and in `Gateway.start` for embedders.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError, type ConfigProblem } from '../../core/config/load.ts';

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
  const [certPem, keyPem] = [await readText(files.cert, CERT, problems), await readText(files.key, KEY, problems)];
  const check = checkCertificatePem({ cert: certPem, key: keyPem }, files, now);
  return { problems: [...problems, ...check.problems], warnings: check.warnings };
}

/**
 * The same checks on material already read (the listener checks exactly the bytes it is about
 * to serve: the files may be replaced again between a check and a second read). An undefined
 * half was unreadable and is reported by the caller.
 *
 * @param files the file names, for the messages.
 */
export function checkCertificatePem(pem: { cert: string | undefined; key: string | undefined }, files: { cert: string; key: string }, now = Date.now()): CertificateCheck {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const { cert: certPem, key: keyPem } = pem;
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

/**
 * Reads the listener's certificate and key once, for the listener and its checks.
 *
 * @throws ConfigError naming the key of a file that cannot be read.
 */
export async function readCertificatePair(files: { cert: string; key: string }, source: string): Promise<{ cert: string; key: string }> {
  const problems: ConfigProblem[] = [];
  const [cert, key] = [await readText(files.cert, CERT, problems), await readText(files.key, KEY, problems)];
  if (cert === undefined || key === undefined) throw new ConfigError(problems, source);
  return { cert, key };
}

/**
 * The listener's refusal of material that cannot serve, at start and on every reload that
 * brings new material (so that a reload cannot put in place what start refuses).
 *
 * @returns the warnings (certificate about to expire).
 * @throws ConfigError (ERR_CONFIG_INVALID) with the problems, naming `listeners.https.tls.*`.
 */
export function assertCertificateServes(pem: { cert: string; key: string }, files: { cert: string; key: string }, source: string, now = Date.now()): string[] {
  const { problems, warnings } = checkCertificatePem(pem, files, now);
  if (problems.length) throw new ConfigError(problems, source);
  return warnings;
}
