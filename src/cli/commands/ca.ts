/** `gatehouse ca init|status|export-root|rotate-intermediate|rotate-root` — the certificate authority's root and intermediate. */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { GatehouseError } from '../../core/errors.ts';
import { CA_KEY_ALGORITHMS, parseCaKeyAlgorithm } from '../../pki/algorithms.ts';
import { caActivateRootCommand, caCancelRootCommand, caExportRootCommand, caInitCommand, caRotateIntermediateCommand, caRotateRootCommand, caStatusCommand, type CaCertificateStatus } from '../../pki/commands/index.ts';
import { caChangeNotice } from '../ca-change-notice.ts';
import { READS_EXISTING_STORE, withCliContext } from '../context.ts';
import { action, emit, formatRecord } from '../output.ts';
import { stateful, type StateOptions } from '../options.ts';

/** A passphrase is read from the environment, never an argument (it would land in shell history and `ps`). */
function passphraseFrom(variable: string | undefined): string | undefined {
  if (variable === undefined) return undefined;
  const passphrase = process.env[variable];
  if (!passphrase) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `environment variable ${variable} is not set` });
  return passphrase;
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('manage the certificate authority');

  stateful(ca.command('init')
    .description('create the root and intermediate CA in the store (once; every instance then uses them)')
    .option('--root-out <file>', 'also write the root certificate (the trust anchor, public) to this file'))
    .action(action(async (o: StateOptions & { rootOut?: string }) => {
      const r = await withCliContext(o, async (ctx) => caInitCommand(await ctx.pki()),
        { action: 'ca.init', result: (c) => ({ resource: c.rootSerial, details: { rootSerial: c.rootSerial, intermediateSerial: c.intermediateSerial } }) });
      if (o.rootOut) await writeFile(o.rootOut, r.rootCertPem, { mode: 0o644 });
      emit(o.json, r, () => [
        formatRecord([['root serial', r.rootSerial], ['intermediate serial', r.intermediateSerial], ...(o.rootOut ? [['root written to', o.rootOut] as const] : [])]),
        '', r.rootCertPem.trim(),
      ].join('\n'));
    }));

  stateful(ca.command('status')
    .description('the root, intermediates and any root rotation under way, with serials and validity (reads only)'))
    .action(action(async (o: StateOptions) => {
      const r = await withCliContext(o, async (ctx) => caStatusCommand(await ctx.pki()), undefined, READS_EXISTING_STORE);
      const line = (c: CaCertificateStatus) => `${c.serial} ${c.subject} ${c.keyAlgorithm} (until ${c.notAfter}, ${c.daysLeft} days left)`;
      emit(o.json, r, () => formatRecord([
        ['trust domain', r.trustDomain], ['key algorithm', r.keyAlgorithm],
        ['root', line(r.root)], ['root key in store', r.root.keyInStore],
        ['issuing intermediate', line(r.issuingIntermediate)],
        ['previous intermediates', r.previousIntermediates.map(line)], ['previous roots', r.previousRoots.map(line)],
        ['revoked intermediates', r.revokedIntermediates.map((x) => `${x.serial} (at ${x.revokedAt})`)],
        ...(r.pendingRoot ? [
          ['prepared root', line(r.pendingRoot)] as const, ['its intermediate', line(r.pendingRoot.intermediate)] as const,
          ['prepared at', r.pendingRoot.preparedAt] as const, ['activate without --force from', r.pendingRoot.activateWithoutForceFrom] as const,
        ] : [['root rotation', 'none under way'] as const]),
      ]));
    }));

  stateful(ca.command('export-root')
    .description('write the root CA private key to a new 0600 file; with --remove delete it from the store (offline root)')
    .requiredOption('--out <file>', 'file to create (never overwritten)')
    .option('--passphrase-env <var>', 'encrypt the key (AES-256) with the passphrase in this environment variable (≥ 12 characters)')
    .option('--remove', 'delete the root key from the store after writing it; the intermediate keeps issuing')
    .option('--unencrypted', 'write the key without a passphrase (refused in production without this flag)'))
    .action(action(async (o: StateOptions & { out: string; passphraseEnv?: string; remove?: boolean; unencrypted?: boolean }) => {
      const passphrase = passphraseFrom(o.passphraseEnv);
      const r = await withCliContext(o, async (ctx) => caExportRootCommand(await ctx.pki(), {
        out: o.out, mode: ctx.config.mode, ...(passphrase !== undefined ? { passphrase } : {}), ...(o.remove ? { remove: true } : {}), ...(o.unencrypted ? { unencrypted: true } : {}),
      }),
        { action: 'ca.export-root', resource: 'root', details: { out: o.out, encrypted: passphrase !== undefined, remove: o.remove === true } });
      emit(o.json, r, () => formatRecord([['written to', r.file], ['encrypted', r.encrypted], ['removed from store', r.removed]]));
    }));

  stateful(ca.command('rotate-intermediate')
    .description('create a new intermediate CA signed by the root; it issues from now on, the previous one stays trusted until it expires')
    .option('--root-key <file>', 'the root key exported with `ca export-root` (required once the root is offline)')
    .option('--passphrase-env <var>', 'passphrase of the root key file, read from this environment variable')
    .option('--retire-previous', 'the replaced intermediates\' keys are no longer trusted (leaked): revoke them on the root\'s CRL and drop them from the trust at once; their certificates stop working and cannot renew'))
    .action(action(async (o: StateOptions & { rootKey?: string; passphraseEnv?: string; retirePrevious?: boolean }) => {
      const passphrase = passphraseFrom(o.passphraseEnv);
      let rootKeyPem: string | undefined;
      if (o.rootKey !== undefined) {
        try { rootKeyPem = await readFile(o.rootKey, 'utf8'); } catch (cause) {
          throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: `cannot read the root key file ${o.rootKey}`, cause });
        }
      }
      const r = await withCliContext(o, async (ctx) => ({ ...await caRotateIntermediateCommand(await ctx.pki(), {
        ...(rootKeyPem !== undefined ? { rootKeyPem } : {}), ...(passphrase !== undefined ? { passphrase } : {}), ...(o.retirePrevious ? { retirePrevious: true } : {}),
      }), ...caChangeNotice(ctx.config) }), {
        action: 'ca.rotate-intermediate', details: { rootKeyFile: o.rootKey !== undefined, retirePrevious: o.retirePrevious === true },
        result: (v) => ({ resource: v.intermediateSerial, details: { intermediateSerial: v.intermediateSerial, previousSerial: v.previousSerial, notAfter: v.notAfter.toISOString(), rootKey: v.rootKey, retired: v.retired } }),
      });
      emit(o.json, r, () => formatRecord([
        ['intermediate serial', r.intermediateSerial], ['not after', r.notAfter.toISOString()], ['replaces', r.previousSerial],
        ['still trusted', r.retained.map((p) => `${p.serial} (until ${p.notAfter.toISOString()})`)], ...(r.retired.length > 0 ? [['revoked', r.retired] as const] : []),
        ['root key from', r.rootKey], ['crl number', r.crlNumber], ['running instances', r.runningInstances],
      ]));
    }));

  stateful(ca.command('rotate-root')
    .description('replace the root CA in two steps: without --activate, make a new root (and an intermediate it signs) that is trusted from now on and issues nothing; with --activate, put it in force once every relying party trusts it')
    .option('--activate', 'put the prepared root and its intermediate in force; the replaced root stays trusted while intermediates it signed are, its key leaves the store')
    .option('--force', 'with --activate: before pki.rootRotationMinWaitSeconds have passed since the root was prepared')
    .option('--cancel', 'withdraw the prepared root before activation: no longer trusted, its key deleted')
    .option('--retire-previous', 'with --activate: the replaced root and its intermediates leave the trust at once (a leaked key); every certificate of the old chain stops working and cannot renew')
    .option('--bundle-out <file>', 'without --activate: also write the trust bundle (current and new root) to this file, for relying parties outside Gatehouse')
    .option('--key-type <type>', `without --activate: key type of the new root and its intermediate (${CA_KEY_ALGORITHMS.join(', ')}; default: the current root's), to move to a stronger key`))
    .action(action(async (o: StateOptions & { activate?: boolean; force?: boolean; cancel?: boolean; retirePrevious?: boolean; bundleOut?: string; keyType?: string }) => {
      if (o.force && !o.activate) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: '--force only goes with --activate' });
      if (o.retirePrevious && !o.activate) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: '--retire-previous only goes with --activate' });
      if (o.cancel && o.activate) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: '--cancel and --activate exclude each other' });
      if (o.bundleOut && (o.activate || o.cancel)) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: '--bundle-out only goes without --activate or --cancel (the bundle is `GET <pki.apiPath>/bundle` at any time)' });
      if (o.keyType !== undefined && (o.activate || o.cancel)) throw new GatehouseError('ERR_ADMIN_INPUT_INVALID', { publicMessage: '--key-type only goes without --activate or --cancel: the key type is chosen when the root is prepared' });
      // Checked before anything is opened: a mistyped key type must not prepare a root of the old one.
      const keyType = o.keyType === undefined ? undefined : parseCaKeyAlgorithm(o.keyType);
      if (o.cancel) {
        const r = await withCliContext(o, async (ctx) => ({ ...await caCancelRootCommand(await ctx.pki()), ...caChangeNotice(ctx.config) }), {
          action: 'ca.rotate-root', details: { cancel: true }, result: (v) => ({ resource: v.rootSerial, details: { rootSerial: v.rootSerial } }),
        });
        emit(o.json, r, () => formatRecord([['withdrawn root', r.rootSerial], ['running instances', r.runningInstances]]));
        return;
      }
      if (o.activate) {
        const r = await withCliContext(o, async (ctx) => ({
          ...await caActivateRootCommand(await ctx.pki(), { force: o.force === true, retirePrevious: o.retirePrevious === true }), ...caChangeNotice(ctx.config),
        }), {
          action: 'ca.rotate-root', details: { activate: true, force: o.force === true, retirePrevious: o.retirePrevious === true },
          result: (v) => ({ resource: v.rootSerial, details: { rootSerial: v.rootSerial, previousRootSerial: v.previousRootSerial, intermediateSerial: v.intermediateSerial, previousRootKeyDropped: v.previousRootKeyDropped } }),
        });
        emit(o.json, r, () => formatRecord([
          ['root serial', r.rootSerial], ['key type', r.keyAlgorithm], ['intermediate serial', r.intermediateSerial], ['replaces root', r.previousRootSerial],
          ['still trusted', r.retainedRoots.map((p) => `${p.serial} (until ${p.notAfter.toISOString()})`)],
          ['replaced root key removed from store', r.previousRootKeyDropped], ['crl number', r.crlNumber], ['running instances', r.runningInstances],
        ]));
        return;
      }
      const r = await withCliContext(o, async (ctx) => ({ ...await caRotateRootCommand(await ctx.pki(), keyType ? { keyType } : {}), ...caChangeNotice(ctx.config) }), {
        action: 'ca.rotate-root', details: { activate: false, ...(keyType ? { keyType } : {}) },
        result: (v) => ({ resource: v.rootSerial, details: { rootSerial: v.rootSerial, currentRootSerial: v.currentRootSerial, intermediateSerial: v.intermediateSerial, keyAlgorithm: v.keyAlgorithm } }),
      });
      if (o.bundleOut) await writeFile(o.bundleOut, r.trustBundlePem, { mode: 0o644 });
      emit(o.json, r, () => [
        formatRecord([
          ['new root serial', r.rootSerial], ['not after', r.rootNotAfter.toISOString()], ['key type', r.keyAlgorithm === r.currentKeyAlgorithm ? r.keyAlgorithm : `${r.keyAlgorithm} (current root: ${r.currentKeyAlgorithm})`],
          ['current root', r.currentRootSerial],
          ['activate after', r.activateAfter.toISOString()], ...(o.bundleOut ? [['bundle written to', o.bundleOut] as const] : []),
          ['running instances', r.runningInstances],
        ]),
        '', `${r.announced ? 'Running Gatehouse instances were told and trust the new root now' : 'Every Gatehouse instance trusts the new root at its next refresh'}; workloads at their next trust refresh. Give the bundle below to every other relying party, then run \`gatehouse ca rotate-root --activate\`.`,
        '', r.trustBundlePem.trim(),
      ].join('\n'));
    }));
}
