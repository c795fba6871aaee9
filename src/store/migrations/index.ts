/**
 * Every migration, in order. Names are `NNNN-<area>-<what>` and must sort in the
 * order listed (the migrator refuses a new migration that sorts before one already
 * applied). To add one: create `NNNN-<area>-<what>.ts` with the next free number
 * and append one import and one entry below — never edit or reorder applied ones.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001-store-kv-records.ts';
import * as m0002 from './0002-identity-accounts.ts';
import * as m0003 from './0003-pki-ca.ts';
import * as m0004 from './0004-audit-log.ts';
import * as m0005 from './0005-authn-sessions.ts';
import * as m0006 from './0006-authn-revoked-jwts.ts';
import * as m0007 from './0007-identity-federated-link-unique.ts';
import * as m0008 from './0008-approvals-requests.ts';
import * as m0009 from './0009-approvals-requester-index.ts';
import * as m0010 from './0010-pki-certificates-renewed-from.ts';
import * as m0011 from './0011-audit-actor-index.ts';
import * as m0012 from './0012-pki-ca-previous-intermediates.ts';
import * as m0013 from './0013-approvals-content-headers.ts';
import * as m0014 from './0014-approvals-body.ts';
import * as m0015 from './0015-pki-ca-root-rotation.ts';
import * as m0016 from './0016-approvals-used-request.ts';
import * as m0017 from './0017-approvals-body-erased.ts';

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-store-kv-records': m0001,
  '0002-identity-accounts': m0002,
  '0003-pki-ca': m0003,
  '0004-audit-log': m0004,
  '0005-authn-sessions': m0005,
  '0006-authn-revoked-jwts': m0006,
  '0007-identity-federated-link-unique': m0007,
  '0008-approvals-requests': m0008,
  '0009-approvals-requester-index': m0009,
  '0010-pki-certificates-renewed-from': m0010,
  '0011-audit-actor-index': m0011,
  '0012-pki-ca-previous-intermediates': m0012,
  '0013-approvals-content-headers': m0013,
  '0014-approvals-body': m0014,
  '0015-pki-ca-root-rotation': m0015,
  '0016-approvals-used-request': m0016,
  '0017-approvals-body-erased': m0017,
};
