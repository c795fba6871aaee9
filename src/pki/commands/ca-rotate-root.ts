/**
 * `gatehouse ca rotate-root [--activate [--force] | --cancel]`: the two steps of a root rotation
 * (src/pki/root-rotation.ts). Activation ends with a CRL signed by every intermediate still
 * trusted, the new issuing one included, so that instances and workloads that pick the new
 * root up at their next refresh find a CRL for each CA of its chains already there.
 */
import type { CaKeyAlgorithm } from '../algorithms.ts';
import { openAuthority, type PkiCommandContext } from './context.ts';
import { activateRootRotation, cancelRootRotation, prepareRootRotation, type ActivateRootResult, type CancelRootResult, type PrepareRootResult } from '../root-rotation.ts';

/** `keyType`: the new root's and its intermediate's (`--key-type`); default the current root's. */
export async function caRotateRootCommand(ctx: PkiCommandContext, options: { keyType?: CaKeyAlgorithm } = {}): Promise<PrepareRootResult> {
  return prepareRootRotation({
    repo: ctx.repo, masterKey: ctx.masterKey, config: ctx.config, ...(options.keyType ? { keyType: options.keyType } : {}),
    ...(ctx.logger ? { logger: ctx.logger } : {}), ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}),
  });
}

export async function caActivateRootCommand(ctx: PkiCommandContext, options: { force?: boolean; retirePrevious?: boolean } = {}): Promise<ActivateRootResult & { crlNumber: number }> {
  const result = await activateRootRotation({
    repo: ctx.repo, masterKey: ctx.masterKey, config: ctx.config, ...(options.force ? { force: true } : {}), ...(options.retirePrevious ? { retirePrevious: true } : {}),
    ...(ctx.logger ? { logger: ctx.logger } : {}), ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}),
  });
  const crl = await (await openAuthority(ctx)).publishCrl();
  return { ...result, crlNumber: crl.number };
}

export async function caCancelRootCommand(ctx: PkiCommandContext): Promise<CancelRootResult> {
  return cancelRootRotation({ repo: ctx.repo, masterKey: ctx.masterKey, config: ctx.config, ...(ctx.logger ? { logger: ctx.logger } : {}), ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}) });
}
