/** A workload's own TLS identity: private key and certificate chain, with its facts. */
export interface TlsMaterial {
  /** PKCS#8 PEM private key. Never logged, never leaves the process that generated it. */
  keyPem: string;
  /** Leaf certificate followed by the intermediate. */
  chainPem: string;
  spiffeId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}
