/** Approval ids: `apv_` + 128 random bits, base64url. The id is the only thing an approver is sent. */
import { randomBytes } from 'node:crypto';

const FORMAT = /^apv_[A-Za-z0-9_-]{22}$/;

export function newApprovalId(): string {
  return 'apv_' + randomBytes(16).toString('base64url');
}

/** True for a well-formed id (anything else is refused before the store is asked). */
export function isApprovalId(value: string): boolean {
  return FORMAT.test(value);
}
