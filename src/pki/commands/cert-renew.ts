/** `gatehouse cert renew --csr <file> --cert <current cert>`: renewal authenticated by the current certificate. */
import type { IssuedCertificate } from '../authority.ts';
import { openAuthority, type PkiCommandContext } from './context.ts';

export async function certRenewCommand(ctx: PkiCommandContext, options: { csrPem: string; currentCertPem: string; lifetimeSeconds?: number }): Promise<IssuedCertificate> {
  const ca = await openAuthority(ctx);
  return ca.renew(options.csrPem, options.currentCertPem, options.lifetimeSeconds ? { lifetimeSeconds: options.lifetimeSeconds } : {});
}
