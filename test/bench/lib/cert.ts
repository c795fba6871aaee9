/**
 * One self-signed certificate for every TLS target, made by the real openssl binary, so
 * that all proxies terminate TLS with the same key type and the same chain.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const exec = promisify(execFile);

/** Where the bench certificate and key are, and the certificate's PEM text. */
export interface CertFiles {
  certFile: string;
  keyFile: string;
  /** The certificate itself, for clients to trust as their only CA. */
  pem: string;
}

/** ECDSA P-256, valid one day, for `localhost` and 127.0.0.1. */
export async function makeSelfSignedCert(openssl: string, dir: string): Promise<CertFiles> {
  const certFile = join(dir, 'bench-cert.pem');
  const keyFile = join(dir, 'bench-key.pem');
  await exec(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return { certFile, keyFile, pem: await readFile(certFile, 'utf8') };
}
