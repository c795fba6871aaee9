/** `gatehouse keys rotate` — new signing key now; the previous one verifies until its tokens expired. */
import type { SigningAlgorithm } from '../keys/key-manager.ts';
import type { IdentityProvider } from '../identity-provider.ts';

export async function keysRotate(idp: Pick<IdentityProvider, 'rotateKeys'>, algorithm?: SigningAlgorithm, options: { retirePrevious?: boolean } = {}): Promise<{ kid: string; previousKid: string | undefined; retireAt: string }> {
  const r = await idp.rotateKeys(algorithm, options);
  return { kid: r.kid, previousKid: r.previousKid, retireAt: new Date(r.retireAt).toISOString() };
}
