/**
 * Certificates for the tests, made by the real `openssl` binary: a CA with a leaf for x5c
 * chains, a second (rogue) CA, and a self-signed TLS certificate for 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

export interface CertAndKey { certPem: string; keyPem: string; key: KeyObject; cert: X509Certificate; certFile: string; keyFile: string }

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'gatehouse-authn-'));
  #n = 0;

  #openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  #load(name: string): CertAndKey {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    const certPem = readFileSync(certFile, 'utf8');
    const keyPem = readFileSync(keyFile, 'utf8');
    return { certPem, keyPem, key: createPrivateKey(keyPem), cert: new X509Certificate(certPem), certFile, keyFile };
  }

  /** A self-signed CA (EC P-256). */
  ca(cn: string): CertAndKey {
    const name = `ca${this.#n++}`;
    this.#openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
      '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    return this.#load(name);
  }

  /** A leaf (EC P-256, CA:FALSE) signed by `issuer`. `san` e.g. 'IP:127.0.0.1' or 'URI:spiffe://…'. */
  leaf(cn: string, issuer: CertAndKey, san?: string, extKeyUsage = 'serverAuth,clientAuth', keyUsage = 'digitalSignature'): CertAndKey {
    const name = `leaf${this.#n++}`;
    this.#openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,${keyUsage}\nextendedKeyUsage=${extKeyUsage}\n${san ? `subjectAltName=${san}\n` : ''}`);
    this.#openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', ext]);
    return this.#load(name);
  }

  /** A self-signed leaf (not a CA), e.g. for the trust store of the x5t#S256 strategy. */
  selfSigned(cn: string, san?: string): CertAndKey {
    const name = `self${this.#n++}`;
    this.#openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
      '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:FALSE', ...(san ? ['-addext', `subjectAltName=${san}`] : [])]);
    return this.#load(name);
  }

  cleanup(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

/** base64 DER of a certificate, as it goes into `x5c`. */
export function x5cEntry(cert: X509Certificate): string {
  return cert.raw.toString('base64');
}
