/**
 * Two identities with the same `sub`, verified by the real authentication stage: the local
 * user "alice" (a token of Gatehouse's own issuer, backed by the directory) and "alice" as
 * an external issuer that names its own principals (`principals: claims`) mints her.
 */
import type { Identity } from '../../../src/gateway/context.ts';
import { call } from './harness.ts';
import { sign, ORIGIN, type Setup } from './setup.ts';

export interface CollidingIdentities {
  local: Identity;
  foreign: Identity;
  localToken: string;
  foreignToken: string;
}

/** `sub` is added to the directory (as a user with no roles) when it is not there yet. */
export async function collidingIdentities(s: Setup, sub = 'alice'): Promise<CollidingIdentities> {
  if (await s.directory.getPrincipal(sub) === undefined) s.directory.add({ subject: sub });
  const localToken = await sign(s.own.privateKey, { alg: 'ES256', kid: s.own.kid, typ: 'at+jwt' }, { iss: ORIGIN, aud: ORIGIN, sub });
  // JWKS_ISSUER is configured with the default `principals: claims`: it is trusted with the roles it puts in a token.
  const foreignToken = await sign(s.ec.privateKey, { alg: 'ES256', kid: s.ec.kid }, { sub, roles: ['reader'] });
  const identityOf = async (token: string): Promise<Identity> => {
    const r = await call(s.harness.url, { headers: { authorization: `Bearer ${token}` } });
    if (r.status !== 200) throw new Error(`authentication failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Identity;
  };
  return { local: await identityOf(localToken), foreign: await identityOf(foreignToken), localToken, foreignToken };
}
