/** `gatehouse ca init`: create the root and intermediate in the store. */
import { initCa, type InitCaResult } from '../ca-init.ts';
import type { PkiCommandContext } from './context.ts';

export function caInitCommand(ctx: PkiCommandContext): Promise<InitCaResult> {
  return initCa({
    repo: ctx.repo, masterKey: ctx.masterKey, config: ctx.config,
    ...(ctx.logger ? { logger: ctx.logger } : {}), ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}),
  });
}
