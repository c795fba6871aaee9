/**
 * Turns the trust material a workload downloads (roots, intermediates, CRLs) into a
 * TrustStore, after checking what the TrustStore itself takes on faith: every CRL is signed
 * by one of the CA certificates, not expired, and the workload CRL is not older than the
 * one already in force (a replayed old CRL would silently un-revoke certificates).
 *
 * The roots themselves are trusted because they came over Gatehouse's authenticated HTTPS
 * endpoint (the same channel that carries the bootstrap token).
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { GatehouseError } from '../../core/errors.ts';
import { TrustStore } from '../trust-store.ts';
import { x509 } from '../x509.ts';
import type { TrustAnswer } from './pki-api-client.ts';

/** A trust store with the facts needed to decide whether a later one replaces it. */
export interface VerifiedTrust {
  trust: TrustStore;
  /** CRL number of the workload CRL (the one signed by an intermediate). */
  crlNumber: number;
  /** Earliest nextUpdate of the CRLs: after it, OpenSSL refuses every peer (fail closed). */
  nextUpdate: Date;
  /** The material as received, for persisting. */
  answer: TrustAnswer;
}

const CERT_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function invalid(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_PKI_CLIENT_TRUST_INVALID', { detail, ...(cause === undefined ? {} : { cause }) });
}

function parseCerts(pem: string, what: string): x509.X509Certificate[] {
  const blocks = pem.match(CERT_PEM) ?? [];
  if (blocks.length === 0) throw invalid(`no ${what} certificate`);
  try {
    return blocks.map((b) => new x509.X509Certificate(b));
  } catch (cause) {
    throw invalid(`a ${what} certificate does not parse`, cause);
  }
}

function isCa(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

function crlNumberOf(crl: x509.X509Crl): number | undefined {
  const ext = crl.getExtension(id_ce_cRLNumber);
  if (!ext) return undefined;
  return AsnConvert.parse(ext.value, CRLNumber).value;
}

/**
 * Verifies downloaded trust material and builds the TrustStore.
 *
 * @param previous the trust in force; a workload CRL with a lower number is refused.
 * @throws GatehouseError ERR_PKI_CLIENT_TRUST_INVALID
 */
export async function buildVerifiedTrust(answer: TrustAnswer, expectedTrustDomain: string, previous?: VerifiedTrust, now: Date = new Date()): Promise<VerifiedTrust> {
  if (answer.trustDomain !== expectedTrustDomain) throw invalid(`trust domain ${JSON.stringify(answer.trustDomain)} is not ${expectedTrustDomain}`);
  const roots = parseCerts(answer.roots, 'root');
  const intermediates = parseCerts(answer.intermediates, 'intermediate');
  for (const root of roots) {
    if (!isCa(root) || !(await root.isSelfSigned())) throw invalid(`root ${root.subject} is not a self-signed CA`);
  }
  for (const intermediate of intermediates) {
    if (!isCa(intermediate)) throw invalid(`intermediate ${intermediate.subject} is not a CA`);
    let signedByRoot = false;
    for (const root of roots) {
      if (intermediate.issuer === root.subject && (await intermediate.verify({ publicKey: root, signatureOnly: true }))) { signedByRoot = true; break; }
    }
    if (!signedByRoot) throw invalid(`intermediate ${intermediate.subject} is not signed by a root`);
  }

  const authorities = [...roots, ...intermediates];
  const covered = new Set<x509.X509Certificate>();
  let workloadNumber: number | undefined;
  let nextUpdate: Date | undefined;
  for (const pem of answer.crls) {
    let crl: x509.X509Crl;
    try { crl = new x509.X509Crl(pem); } catch (cause) { throw invalid('a CRL does not parse', cause); }
    let issuer: x509.X509Certificate | undefined;
    for (const candidate of authorities) {
      if (crl.issuer === candidate.subject && (await crl.verify({ publicKey: candidate }))) { issuer = candidate; break; }
    }
    if (!issuer) throw invalid(`CRL of ${crl.issuer} is not signed by a CA of the bundle`);
    if (!crl.nextUpdate || crl.nextUpdate.getTime() <= now.getTime()) throw invalid(`CRL of ${crl.issuer} has expired`);
    covered.add(issuer);
    if (!nextUpdate || crl.nextUpdate < nextUpdate) nextUpdate = crl.nextUpdate;
    if (intermediates.includes(issuer)) {
      const n = crlNumberOf(crl);
      if (n === undefined) throw invalid(`CRL of ${crl.issuer} has no CRL number`);
      workloadNumber = Math.max(workloadNumber ?? n, n);
    }
  }
  // OpenSSL checks a CRL for every certificate of a chain: a missing one would refuse every peer.
  for (const authority of authorities) {
    if (!covered.has(authority)) throw invalid(`no CRL signed by ${authority.subject}`);
  }
  if (workloadNumber === undefined || nextUpdate === undefined) throw invalid('no workload CRL');
  if (previous && workloadNumber < previous.crlNumber) {
    throw invalid(`CRL number ${workloadNumber} is older than the one in force (${previous.crlNumber})`);
  }
  let trust: TrustStore;
  try {
    trust = new TrustStore({ trustDomain: expectedTrustDomain, rootPems: [answer.roots], intermediatePems: [answer.intermediates], crlPems: answer.crls });
  } catch (cause) {
    throw invalid('trust material does not load', cause);
  }
  return { trust, crlNumber: workloadNumber, nextUpdate, answer };
}
