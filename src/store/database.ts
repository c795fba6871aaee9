/**
 * The typed schema of the whole database, composed from one interface per area.
 * An area adds its tables in `src/store/tables/<area>.ts` and one line here:
 * an import and an entry in the `extends` list, each on a line of its own so that
 * areas never edit the same line.
 */
import type { StoreTables } from './tables/store.ts';
import type { PkiTables } from './tables/pki.ts';
import type { IdentityTables } from './tables/identity.ts';
import type { AuditTables } from './tables/audit.ts';
import type { AuthnTables } from './tables/authn.ts';
import type { ApprovalTables } from './tables/approvals.ts';

export interface Database extends
  StoreTables,
  PkiTables,
  IdentityTables,
  AuditTables,
  AuthnTables,
  ApprovalTables {}
