/** `gatehouse cert issue|renew|revoke|list|inspect` — workload certificates of the built-in CA. */
import { access, constants, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { GatehouseError } from '../../core/errors.ts';
import type { IssuedCertificate } from '../../pki/authority.ts';
import { REVOCATION_REASONS } from '../../pki/crl-builder.ts';
import { certInspectCommand, certIssueCommand, certListCommand, certRenewCommand, certRevokeCommand, type CertListRow } from '../../pki/commands/index.ts';
import { withCliContext } from '../context.ts';
import { caChangeNotice } from '../ca-change-notice.ts';
import { action, emit, formatRecord, formatTable } from '../output.ts';
import { collect, positiveInt, stateful, type StateOptions } from '../options.ts';

interface OutputOptions extends StateOptions {
  out?: string;
  bundleOut?: string;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `cannot read the ${what} ${file}`, cause });
  }
}

/** Checked before issuing, so a typo in --out does not leave an issued certificate nobody received. */
async function assertWritable(...files: (string | undefined)[]): Promise<void> {
  for (const file of files) {
    if (file === undefined) continue;
    try {
      await access(dirname(resolve(file)), constants.W_OK);
    } catch (cause) {
      throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `cannot write ${file}: its directory is missing or not writable`, cause });
    }
  }
}

/** Writes the chain / trust bundle where asked, then prints the summary (and the chain when it went to no file). */
async function printIssued(cert: IssuedCertificate, o: OutputOptions): Promise<void> {
  if (o.out) await writeFile(o.out, cert.chainPem, { mode: 0o644 });
  if (o.bundleOut) await writeFile(o.bundleOut, cert.trustBundlePem, { mode: 0o644 });
  const data = {
    serial: cert.serial, spiffeId: cert.spiffeId, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
    certificate: cert.certificatePem, chain: cert.chainPem, trustBundle: cert.trustBundlePem,
  };
  emit(o.json, data, () => {
    const summary = formatRecord([
      ['serial', data.serial], ['spiffe id', data.spiffeId], ['not before', data.notBefore], ['not after', data.notAfter],
      ...(o.out ? [['chain written to', o.out] as const] : []), ...(o.bundleOut ? [['trust bundle written to', o.bundleOut] as const] : []),
    ]);
    return o.out ? summary : `${summary}\n\n${cert.chainPem.trim()}`;
  });
}

function outputOptions(cmd: Command): Command {
  return cmd
    .option('--out <file>', 'write the certificate chain (leaf + intermediate, PEM) to this file instead of printing it')
    .option('--bundle-out <file>', 'write the trust bundle (root certificates, PEM) to this file');
}

const LIST_COLUMNS = [
  { header: 'serial', value: (r: CertListRow) => r.serial },
  { header: 'spiffe id', value: (r: CertListRow) => r.spiffeId },
  { header: 'status', value: (r: CertListRow) => r.status },
  { header: 'not after', value: (r: CertListRow) => r.notAfter },
  { header: 'via', value: (r: CertListRow) => r.issuedVia },
  { header: 'revoked', value: (r: CertListRow) => (r.revokedAt ? `${r.revokedAt} (${r.revocationReason ?? 'unspecified'})` : undefined) },
];

export function registerCert(program: Command): void {
  const cert = program.command('cert').description('issue, renew, revoke and inspect workload certificates');

  stateful(outputOptions(cert.command('issue')
    .description('issue a certificate for a CSR directly (the operator vouches for the identity)')
    .requiredOption('--csr <file>', 'PKCS#10 certificate signing request (PEM)')
    .requiredOption('--id <spiffe-id>', 'identity to certify, spiffe://<trust domain>/<kind>/<name>')
    .option('--dns <name>', 'DNS name the certificate may carry (repeatable)', collect)
    .option('--ip <address>', 'IP address the certificate may carry (repeatable)', collect)
    .option('--lifetime <seconds>', 'validity (default pki.leafLifetimeSeconds)', positiveInt)))
    .action(action(async (o: OutputOptions & { csr: string; id: string; dns?: string[]; ip?: string[]; lifetime?: number }) => {
      const csrPem = await readPem(o.csr, 'CSR');
      await assertWritable(o.out, o.bundleOut);
      const issued = await withCliContext(o, async (ctx) => certIssueCommand(await ctx.pki(), {
        csrPem, spiffeId: o.id, ...(o.dns ? { dnsNames: o.dns } : {}), ...(o.ip ? { ipAddresses: o.ip } : {}), ...(o.lifetime ? { lifetimeSeconds: o.lifetime } : {}),
      }), { action: 'cert.issue', resource: o.id, details: { spiffeId: o.id, dns: o.dns ?? [], ip: o.ip ?? [], lifetimeSeconds: o.lifetime }, result: (c) => ({ resource: c.serial, details: { notAfter: c.notAfter } }) });
      await printIssued(issued, o);
    }));

  stateful(outputOptions(cert.command('renew')
    .description('renew a certificate: a new CSR (new key) plus the current, unrevoked certificate of the same identity')
    .requiredOption('--csr <file>', 'PKCS#10 certificate signing request for the new key (PEM)')
    .requiredOption('--cert <file>', 'the current certificate (PEM)')
    .option('--lifetime <seconds>', 'validity (default pki.leafLifetimeSeconds)', positiveInt)))
    .action(action(async (o: OutputOptions & { csr: string; cert: string; lifetime?: number }) => {
      const csrPem = await readPem(o.csr, 'CSR');
      const currentCertPem = await readPem(o.cert, 'certificate');
      await assertWritable(o.out, o.bundleOut);
      const issued = await withCliContext(o, async (ctx) => certRenewCommand(await ctx.pki(), { csrPem, currentCertPem, ...(o.lifetime ? { lifetimeSeconds: o.lifetime } : {}) }),
        { action: 'cert.renew', details: { lifetimeSeconds: o.lifetime }, result: (c) => ({ resource: c.serial, details: { spiffeId: c.spiffeId, notAfter: c.notAfter } }) });
      await printIssued(issued, o);
    }));

  stateful(cert.command('revoke')
    .description('revoke one certificate (--serial) or every live certificate and unused bootstrap token of an identity (--id) and publish a new CRL')
    .option('--serial <hex>', 'serial number (hex, as in `cert list`)')
    .option('--id <spiffe-id>', 'revoke all live certificates and unused bootstrap tokens of this identity')
    .addOption(new Option('--reason <reason>', 'revocation reason').choices([...REVOCATION_REASONS]).default('unspecified')))
    .action(action(async (o: StateOptions & { serial?: string; id?: string; reason: string }) => {
      if ((o.serial === undefined) === (o.id === undefined)) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: 'give exactly one of --serial or --id' });
      const r = await withCliContext(o, async (ctx) => ({ ...await certRevokeCommand(await ctx.pki(), {
        ...(o.serial !== undefined ? { serial: o.serial } : {}), ...(o.id !== undefined ? { spiffeId: o.id } : {}), reason: o.reason,
      }), ...caChangeNotice(ctx.config) }), { action: 'cert.revoke', resource: o.serial ?? o.id!, details: { reason: o.reason }, result: (v) => ({ details: { revoked: v.revoked, ...(v.bootstrapTokensRevoked ? { bootstrapTokensRevoked: v.bootstrapTokensRevoked } : {}) } }) });
      emit(o.json, r, () => [
        r.revoked.length ? `revoked (${o.reason}): ${r.revoked.join(', ')}` : 'no live certificate to revoke',
        // --id only: the identity's unused bootstrap tokens would have got it a new certificate.
        ...(r.bootstrapTokensRevoked ? [r.bootstrapTokensRevoked.length ? `unused bootstrap tokens revoked: ${r.bootstrapTokensRevoked.join(', ')}` : 'no unused bootstrap token to revoke'] : []),
        // Whether instances refuse the certificate now or only after their next CRL read.
        `running instances: ${r.runningInstances}`,
      ].join('\n'));
    }));

  stateful(cert.command('list')
    .description('issued certificates, newest first')
    .option('--id <spiffe-id>', 'only this identity')
    .option('--live', 'only certificates that are neither expired nor revoked')
    .option('--limit <n>', 'at most this many (default 100)', positiveInt))
    .action(action(async (o: StateOptions & { id?: string; live?: boolean; limit?: number }) => {
      const rows = await withCliContext(o, async (ctx) => certListCommand(await ctx.pki(), {
        ...(o.id ? { spiffeId: o.id } : {}), ...(o.live ? { live: true } : {}), ...(o.limit ? { limit: o.limit } : {}),
      }));
      emit(o.json, rows, () => formatTable(rows, LIST_COLUMNS));
    }));

  stateful(cert.command('inspect')
    .argument('<file>', 'certificate (PEM)')
    .description('what a certificate says (SPIFFE id, names, validity, usages) and what the CA knows about it')
    .option('--offline', 'do not open the store (no status)'))
    .action(action(async (file: string, o: StateOptions & { offline?: boolean }) => {
      const pem = await readPem(file, 'certificate');
      const r = o.offline ? await certInspectCommand(pem) : await withCliContext(o, async (ctx) => certInspectCommand(pem, await ctx.pki()));
      emit(o.json, r, () => formatRecord([
        ['serial', r.serial], ['subject', r.subject], ['issuer', r.issuer], ['not before', r.notBefore], ['not after', r.notAfter],
        ['spiffe ids', r.spiffeIds], ['dns names', r.dnsNames], ['ip addresses', r.ipAddresses], ['ca', r.ca],
        ['extended key usage', r.extendedKeyUsage], ['sha-256', r.sha256Fingerprint], ...(r.status ? [['status', r.status] as const] : []),
      ]));
    }));
}
