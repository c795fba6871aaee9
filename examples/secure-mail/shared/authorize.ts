/**
 * The services' own authorization, on top of Gatehouse's policy (defense in depth: a
 * misconfigured route must not open a service). Service-to-service endpoints accept only
 * named callers; user endpoints only users.
 */
import type { GatehouseIdentity } from '../../../src/sdk/identity.ts';
import { MailError } from './errors.ts';

/** Only services whose asserted subject is in `allowed`. */
export function requireCaller(identity: GatehouseIdentity, allowed: readonly string[]): void {
  if (identity.kind !== 'service' || !allowed.includes(identity.subject)) {
    throw new MailError('MAIL_FORBIDDEN', { detail: `${identity.kind} ${identity.subject} may not call this endpoint` });
  }
}

/** Only people (the web front end and mobile clients act for a user). */
export function requireUser(identity: GatehouseIdentity): void {
  if (identity.kind !== 'user') throw new MailError('MAIL_FORBIDDEN', { detail: `${identity.kind} ${identity.subject} is not a user` });
}
