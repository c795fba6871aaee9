/** What callers of the certificate authority ask for and what they receive. */

/** What a workload receives: its certificate, the chain to send, and the bundle to trust. */
export interface IssuedCertificate {
  serial: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
  certificatePem: string;
  /** Leaf followed by the intermediate: what a TLS endpoint presents. */
  chainPem: string;
  /** Root certificate(s) to trust. */
  trustBundlePem: string;
}

export interface IssueOptions {
  /** Requested validity; default `pki.leafLifetimeSeconds`, at most `pki.maxLeafLifetimeSeconds`. */
  lifetimeSeconds?: number;
}

/** Who asked, as the HTTP API knows it: named in the refusal's event. */
export interface Requester {
  /** The client address (after trusted proxies, as the gateway determined it). */
  clientAddress?: string;
}

export interface InternalIssueRequest extends IssueOptions {
  csr: string | Uint8Array;
  spiffeId: string;
  /** DNS names the identity may have; the CSR may ask for any subset. */
  allowedDnsNames?: readonly string[];
  allowedIpAddresses?: readonly string[];
}

export interface CreateBootstrapTokenRequest {
  spiffeId: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  ttlSeconds?: number;
}
