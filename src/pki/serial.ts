/**
 * Certificate serial numbers: 128 random bits (CA/B Forum asks for at least 64), never
 * zero-led so every serial has its full width. @peculiar/x509 adds the DER sign byte that
 * keeps the INTEGER positive.
 */
import { randomBytes } from 'node:crypto';

/** A fresh random positive 128-bit serial as lower-case hex. */
export function randomSerial(): string {
  let bytes = randomBytes(16);
  while (bytes[0] === 0) bytes = randomBytes(16);
  return bytes.toString('hex');
}

/**
 * Canonical form of a serial from any source (@peculiar/x509, node:crypto, openssl, a user):
 * lower-case hex without leading zeros or colons.
 * @returns undefined when `value` is not a hex serial.
 */
export function normalizeSerial(value: string): string | undefined {
  const hex = value.replace(/:/g, '').trim().toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) return undefined;
  return BigInt(`0x${hex}`).toString(16);
}
