/**
 * `gatehouse keys rotate` — a new token-signing key now; the previous one keeps verifying until its
 * tokens expired, or with `--retire-previous` is withdrawn at once.
 */
import { Option, type Command } from 'commander';
import { keysRotate } from '../../identity/commands/index.ts';
import { withCliContext } from '../context.ts';
import { action, emit, formatRecord } from '../output.ts';
import { stateful, type StateOptions } from '../options.ts';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('manage the identity provider\'s signing keys');

  stateful(keys.command('rotate')
    .description('generate a new signing key and make it active; running instances reload their keys')
    .addOption(new Option('--algorithm <alg>', 'algorithm of the new key (default identity.signing.algorithm)').choices(['ES256', 'EdDSA', 'RS256']))
    .option('--retire-previous', 'withdraw every earlier key now instead of once its tokens have expired (a key that may be compromised): tokens it signed are refused at once, IdP sign-in sessions end'))
    .action(action(async (o: StateOptions & { algorithm?: 'ES256' | 'EdDSA' | 'RS256'; retirePrevious?: boolean }) => {
      const retirePrevious = o.retirePrevious === true;
      const r = await withCliContext(o, async (ctx) => keysRotate(await ctx.identity(), o.algorithm, { retirePrevious }),
        { action: 'keys.rotate', details: { algorithm: o.algorithm, retirePrevious }, result: (k) => ({ resource: k.kid, details: { previousKid: k.previousKid } }) });
      emit(o.json, r, () => formatRecord([['active key', r.kid], ['previous key', r.previousKid], ['previous retires', r.retireAt]]));
    }));
}
