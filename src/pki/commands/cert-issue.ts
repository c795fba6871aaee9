/** `gatehouse cert issue --csr <file> --id <spiffe id> [--dns …] [--ip …] [--lifetime s]`: an operator issues directly. */
import type { IssuedCertificate } from '../authority.ts';
import { openAuthority, type PkiCommandContext } from './context.ts';

export interface CertIssueOptions {
  csrPem: string;
  spiffeId: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  lifetimeSeconds?: number;
}

export async function certIssueCommand(ctx: PkiCommandContext, options: CertIssueOptions): Promise<IssuedCertificate> {
  const ca = await openAuthority(ctx);
  return ca.issue({
    csr: options.csrPem, spiffeId: options.spiffeId,
    ...(options.dnsNames ? { allowedDnsNames: options.dnsNames } : {}),
    ...(options.ipAddresses ? { allowedIpAddresses: options.ipAddresses } : {}),
    ...(options.lifetimeSeconds ? { lifetimeSeconds: options.lifetimeSeconds } : {}),
  });
}
