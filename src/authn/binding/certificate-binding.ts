/**
 * RFC 8705 certificate-bound access tokens: the token names the SHA-256 thumbprint of the
 * client certificate it was issued to, and is accepted only on a TLS connection on which the
 * client presented that certificate — the handshake proved possession of its private key.
 * Trust in the certificate's issuer is not needed for the binding (RFC 8705 §3 allows
 * self-signed client certificates); what counts is that it is the same certificate.
 *
 * The thumbprint is computed once per TLS connection, so keep-alive requests stay synchronous.
 */
import { hash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { GatehouseError } from '../../core/errors.ts';

const thumbprints = new WeakMap<TLSSocket, string | null>();

function isTls(socket: Socket): socket is TLSSocket {
  return 'encrypted' in socket && (socket as TLSSocket).encrypted === true;
}

/** base64url SHA-256 of the DER client certificate of the connection, or undefined without one. */
export function clientCertificateThumbprint(socket: Socket): string | undefined {
  if (!isTls(socket)) return undefined;
  let thumbprint = thumbprints.get(socket);
  if (thumbprint === undefined) {
    const cert = socket.getPeerX509Certificate();
    thumbprint = cert === undefined ? null : hash('sha256', cert.raw, 'base64url');
    thumbprints.set(socket, thumbprint);
  }
  return thumbprint ?? undefined;
}

/** Throws unless the connection's client certificate has thumbprint `x5t`. */
export function checkCertificateBinding(x5t: string, socket: Socket): void {
  const presented = clientCertificateThumbprint(socket);
  if (presented === undefined) {
    throw new GatehouseError('ERR_AUTHN_CLIENT_CERT_REQUIRED', { detail: 'certificate-bound token without a client certificate on the connection' });
  }
  if (presented !== x5t) {
    throw new GatehouseError('ERR_AUTHN_TOKEN_BINDING', { detail: `token bound to certificate ${x5t}, connection presented ${presented}` });
  }
}
