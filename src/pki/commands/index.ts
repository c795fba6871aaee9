/** PKI commands as plain async functions; the CLI wires them into commander. */
export { openPkiCommandContext, openAuthority, type PkiCommandContext, type OpenPkiCommandContextOptions } from './context.ts';
export { caInitCommand } from './ca-init.ts';
export { caExportRootCommand, type ExportRootOptions } from './ca-export-root.ts';
export { caRotateIntermediateCommand, type CaRotateIntermediateOptions } from './ca-rotate-intermediate.ts';
export { caActivateRootCommand, caCancelRootCommand, caRotateRootCommand } from './ca-rotate-root.ts';
export { caStatusCommand, type CaStatus, type CaCertificateStatus } from './ca-status.ts';
export { certIssueCommand, type CertIssueOptions } from './cert-issue.ts';
export { certRenewCommand } from './cert-renew.ts';
export { certRevokeCommand } from './cert-revoke.ts';
export { certListCommand, type CertListRow } from './cert-list.ts';
export { certInspectCommand, type CertInspection } from './cert-inspect.ts';
export { bootstrapTokenCreateCommand } from './bootstrap-token-create.ts';
export { bootstrapTokenListCommand, type BootstrapTokenListRow } from './bootstrap-token-list.ts';
export { bootstrapTokenRevokeCommand } from './bootstrap-token-revoke.ts';
