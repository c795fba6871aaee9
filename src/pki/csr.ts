/**
 * Parsing and checking of PKCS#10 certificate signing requests.
 *
 * The CSR proves possession of the private key (its self-signature) and carries the
 * names the workload asks for. Everything else in it (subject, requested extensions such
 * as CA:true) is ignored: the CA decides the certificate's content.
 */
import { GatehouseError } from '../core/errors.ts';
import { classifySubjectKey, type SubjectKeyKind } from './algorithms.ts';
import { canonicalDnsName, canonicalIp } from './names.ts';
import { x509 } from './x509.ts';

/** Largest CSR accepted (a 8192-bit RSA CSR with SANs is well under this). */
export const MAX_CSR_BYTES = 16 * 1024;

export interface ParsedCsr {
  csr: x509.Pkcs10CertificateRequest;
  publicKey: x509.PublicKey;
  keyKind: SubjectKeyKind;
  /** Requested URI SANs, as written. */
  uris: string[];
  /** Requested DNS SANs, canonical (lower case). */
  dnsNames: string[];
  /** Requested IP SANs, canonical. */
  ipAddresses: string[];
}

const SAN_OID = '2.5.29.17';

function invalid(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_PKI_CSR_INVALID', { detail, cause });
}

/**
 * Parses a PEM (or DER) CSR, verifies its self-signature and key, and extracts the SANs.
 * @throws GatehouseError ERR_PKI_CSR_INVALID, ERR_PKI_KEY_UNSUPPORTED
 */
export async function parseCsr(input: string | Uint8Array): Promise<ParsedCsr> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size === 0 || size > MAX_CSR_BYTES) throw invalid(`CSR size ${size} outside 1..${MAX_CSR_BYTES} bytes`);
  if (typeof input === 'string' && !/^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(input)) {
    throw invalid('not a PEM certificate request');
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    // The library's PEM reader expects the standard label; accept the legacy "NEW" spelling too.
    const normalized = typeof input === 'string' ? input.replace(/(BEGIN|END) NEW CERTIFICATE REQUEST/g, '$1 CERTIFICATE REQUEST') : new Uint8Array(input);
    csr = new x509.Pkcs10CertificateRequest(normalized);
  } catch (cause) {
    throw invalid('CSR does not parse', cause);
  }
  const keyKind = classifySubjectKey(csr.publicKey);
  let signatureOk = false;
  try {
    signatureOk = await csr.verify();
  } catch (cause) {
    throw invalid('CSR signature cannot be verified', cause);
  }
  if (!signatureOk) throw invalid('CSR self-signature does not verify (no proof of key possession)');

  const uris: string[] = [];
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const sanExtensions = csr.extensions.filter((e) => e.type === SAN_OID);
  if (sanExtensions.length > 1) throw invalid('CSR has more than one subjectAltName extension');
  const sanRaw = sanExtensions[0];
  if (sanRaw) {
    let names: x509.JsonGeneralNames;
    try {
      names = new x509.SubjectAlternativeNameExtension(sanRaw.rawData).names.toJSON();
    } catch (cause) {
      throw invalid('CSR subjectAltName has an unsupported name form', cause);
    }
    for (const name of names) {
      if (name.type === 'url') uris.push(name.value);
      else if (name.type === 'dns') {
        const dns = canonicalDnsName(name.value);
        if (!dns) throw invalid(`CSR asks for an invalid DNS name ${JSON.stringify(name.value.slice(0, 260))}`);
        dnsNames.push(dns);
      } else if (name.type === 'ip') {
        const ip = canonicalIp(name.value);
        if (!ip) throw invalid(`CSR asks for an invalid IP address ${JSON.stringify(name.value.slice(0, 64))}`);
        ipAddresses.push(ip);
      } else {
        throw invalid(`CSR asks for a ${name.type} subjectAltName, which this CA does not issue`);
      }
    }
  }
  return { csr, publicKey: csr.publicKey, keyKind, uris, dnsNames: [...new Set(dnsNames)], ipAddresses: [...new Set(ipAddresses)] };
}
