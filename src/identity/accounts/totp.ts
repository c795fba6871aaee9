/**
 * TOTP (RFC 6238) through `otplib`: 6 digits, 30-second steps, SHA-1 — what every
 * authenticator app understands. One step of clock drift is accepted in the past only
 * (RFC 6238 §5.2), and a code whose time step is not newer than the last accepted one is
 * refused, so an observed code cannot be replayed within its window.
 */
import { generateSecret, generateURI, verify } from 'otplib';

export const TOTP_PERIOD = 30;

/** A new base32 secret (160 bits). */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The `otpauth://` URI an authenticator app imports (usually as a QR code). */
export function totpUri(secret: string, issuer: string, label: string): string {
  return generateURI({ issuer, label, secret, period: TOTP_PERIOD });
}

/**
 * Verifies a code; returns the accepted time step, or undefined when the code is wrong
 * or its step is not after `lastTimeStep` (replay).
 */
export async function verifyTotp(secret: string, code: string, lastTimeStep: number | undefined): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verify({
    secret, token: code, period: TOTP_PERIOD, epochTolerance: [TOTP_PERIOD, 0],
    ...(lastTimeStep === undefined ? {} : { afterTimeStep: lastTimeStep }),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}
