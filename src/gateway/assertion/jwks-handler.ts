/**
 * Serves the public keys that verify identity assertions at
 * `/.well-known/gatehouse/assertion-jwks.json`, as one of the gateway's internal handlers.
 */
import { GatehouseError } from '../../core/errors.ts';
import { IDENTITY_ASSERTION_JWKS_PATH } from '../../sdk/contract.ts';
import type { InternalHandler } from '../internal-handler.ts';
import type { AssertionSigner } from './signer.ts';

export function createAssertionJwksHandler(signer: AssertionSigner): InternalHandler {
  return {
    name: 'assertion-jwks',
    prefixes: [IDENTITY_ASSERTION_JWKS_PATH],
    handle(req, res) {
      const path = (req.url ?? '').split('?')[0];
      if (path !== IDENTITY_ASSERTION_JWKS_PATH) throw new GatehouseError('ERR_GATEWAY_ROUTE_NOT_FOUND');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new GatehouseError('ERR_REQUEST_METHOD_NOT_ALLOWED', { headers: { allow: 'GET, HEAD' } });
      }
      const body = signer.jwksJson();
      res.writeHead(200, {
        'content-type': 'application/jwk-set+json',
        'content-length': String(Buffer.byteLength(body)),
        // Short, so a rotation is seen soon; the next key is published a rotation ahead anyway.
        'cache-control': 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
