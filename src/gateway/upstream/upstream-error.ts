/**
 * Maps a failed upstream exchange onto Gatehouse's codes: refused/reset → 502,
 * any timeout → 504, a broken response → 502 with its own code.
 */
import { errors } from 'undici';
import { GatehouseError, isGatehouseError } from '../../core/errors.ts';

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const PROTOCOL_CODES = new Set(['UND_ERR_RESPONSE_EXCEEDED_MAX_SIZE', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_INFO', 'HPE_INVALID_CONSTANT', 'HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_TRANSFER_ENCODING', 'HPE_INVALID_STATUS', 'HPE_INVALID_CHUNK_SIZE', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

/** undici's SocketError messages (lib/dispatcher/client-h1.js) for answers it did not ask for. */
const UNSOLICITED = new Set(['bad response', 'bad upgrade']);

const TLS_TRUST_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'UNABLE_TO_GET_CRL', 'CRL_HAS_EXPIRED']);

export function upstreamError(err: unknown, upstream: string): GatehouseError {
  if (isGatehouseError(err)) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  const detail = `upstream ${upstream}: ${code || 'error'} ${e.message ?? ''}`.trim();
  if (TIMEOUT_CODES.has(code)) return new GatehouseError('ERR_GATEWAY_UPSTREAM_TIMEOUT', { detail, cause: err });
  // undici's parser errors carry no code (HTTPParserError looks its HPE_ name up in a map
  // keyed the other way round), so they are recognised by class.
  if (PROTOCOL_CODES.has(code) || code.startsWith('HPE_') || err instanceof errors.HTTPParserError) return new GatehouseError('ERR_GATEWAY_UPSTREAM_PROTOCOL', { detail, cause: err });
  // undici reports an answer it did not ask for (a 100 without Expect, a 101 without an
  // upgrade, a response with no request) as a socket error, by message only; the upstream was
  // reachable and answered wrongly, which is not what UNAVAILABLE tells the operator.
  if (code === 'UND_ERR_SOCKET' && UNSOLICITED.has(e.message ?? '')) return new GatehouseError('ERR_GATEWAY_UPSTREAM_PROTOCOL', { detail, cause: err });
  // The upstream's certificate did not prove the identity we expected: wrong SPIFFE id, wrong
  // CA, expired, revoked, or a host name mismatch.
  if (code.startsWith('ERR_PKI_PEER') || code === 'ERR_TLS_CERT_ALTNAME_INVALID' || TLS_TRUST_CODES.has(code)) {
    return new GatehouseError('ERR_GATEWAY_UPSTREAM_IDENTITY_MISMATCH', { detail, cause: err });
  }
  return new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', { detail, cause: err });
}
