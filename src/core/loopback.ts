/**
 * Whether an IP address (as Node reports a peer, or as written in a URL without brackets) is
 * a loopback address: `::1`, or 127.0.0.0/8 also in its IPv4-mapped form.
 */
export function isLoopbackAddress(address: string): boolean {
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
