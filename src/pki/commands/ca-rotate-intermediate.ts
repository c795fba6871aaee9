/**
 * `gatehouse ca rotate-intermediate [--root-key FILE --passphrase-env VAR]`: a new issuing
 * intermediate signed by the root (from the store, or from the exported key file when the
 * root is offline), then a CRL signed by every intermediate still trusted, so that instances
 * see the new one at their next refresh with a CRL for it already there.
 */
import { openAuthority, type PkiCommandContext } from './context.ts';
import { rotateIntermediate, type RotateIntermediateResult } from '../intermediate-rotation.ts';

export interface CaRotateIntermediateOptions {
  rootKeyPem?: string;
  passphrase?: string;
  /** The replaced intermediates leave the trust at once and are revoked on the root's CRL (a leaked key). */
  retirePrevious?: boolean;
}

export async function caRotateIntermediateCommand(ctx: PkiCommandContext, options: CaRotateIntermediateOptions = {}): Promise<RotateIntermediateResult & { crlNumber: number }> {
  const result = await rotateIntermediate({
    repo: ctx.repo, masterKey: ctx.masterKey, config: ctx.config,
    ...(options.rootKeyPem !== undefined ? { rootKeyPem: options.rootKeyPem } : {}),
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    ...(options.retirePrevious === true ? { retirePrevious: true } : {}),
    ...(ctx.logger ? { logger: ctx.logger } : {}), ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}),
  });
  const crl = await (await openAuthority(ctx)).publishCrl();
  return { ...result, crlNumber: crl.number };
}
