/**
 * The key detection counts and blocks a subject under. A principal id is kept as it is up to
 * {@link MAX_SUBJECT_KEY} characters (every id of Gatehouse's own directory, and the
 * `<issuer>#<sub>` ids of most external issuers); a longer one is replaced by its digest.
 * Dropped instead, a principal whose issuer gave it a long `sub` (a bearer token may be 8 KiB)
 * was never counted, alerted on or blocked: its denials and floods went unseen.
 */
import { createHash } from 'node:crypto';

/** Longest subject stored as it is (a block value is at most 512 characters). */
export const MAX_SUBJECT_KEY = 512;

/** `sha256:<hex>` has no `#`, so it can be neither a directory id nor another issuer's id. */
export function subjectKey(subject: string): string {
  return subject.length <= MAX_SUBJECT_KEY ? subject : `sha256:${createHash('sha256').update(subject).digest('hex')}`;
}
