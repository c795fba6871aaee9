/** Reports a refused certificate request (log line and `pki.certificate.refused`) before it is thrown on. */
import { toGatehouseError, type GatehouseError } from '../core/errors.ts';
import type { CaContext } from './ca-context.ts';
import { emitSafely } from './events.ts';

/** What a refusal's event adds about who asked and what it presented. */
export interface RefusalContext {
  clientAddress?: string;
  refusedCredential?: string;
}

export async function guardRequest<T>(ca: CaContext, knownSpiffeId: string | undefined, work: () => Promise<T>, context?: (e: GatehouseError) => RefusalContext): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const e = toGatehouseError(error);
    // Renewal and bootstrap learn the identity on the way: a refusal after that names it.
    const spiffeId = knownSpiffeId ?? (typeof e.data?.spiffeId === 'string' ? e.data.spiffeId : undefined);
    ca.logger?.warn({ code: e.code, detail: e.detail, spiffeId }, 'certificate request refused');
    emitSafely(ca.onEvent, { type: 'pki.certificate.refused', code: e.code, ...(spiffeId ? { spiffeId } : {}), ...(e.detail ? { detail: e.detail } : {}), ...context?.(e) });
    throw e;
  }
}
