/**
 * A federation provider whose issuer is written as a non-public address (`https://10.0.0.5`,
 * `https://localhost:8080`) that its `privateNetworks` does not list: every sign-in through it
 * would fail at the address guard (src/core/http/address-guard.ts), so `config validate` and
 * start say so, naming the setting, instead of the first user who tries. Names other than
 * localhost are not resolved here (DNS answers at validation prove nothing about later ones):
 * the guard judges those when it connects.
 */
import { BlockList, isIP } from 'node:net';
import type { Config } from './schema.ts';
import type { ConfigProblem } from './load.ts';
import { parseCidr } from '../net/cidr.ts';
import { isPublicAddress } from '../net/public-address.ts';

function listed(networks: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of networks) {
    const range = parseCidr(text);
    if (typeof range !== 'string') list.addSubnet(range.address, range.prefix, range.family);
  }
  return list;
}

export function federationAddressProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [name, p] of Object.entries(config.identity.federation)) {
    const host = new URL(p.issuer).hostname.replace(/^\[(.*)\]$/, '$1');
    const family = isIP(host);
    const loopbackName = host === 'localhost' || host.endsWith('.localhost');
    // localhost resolves to 127.0.0.1, ::1 or both: either listed will do.
    const addresses = family ? [{ address: host, family }] : loopbackName ? [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }] : [];
    if (!addresses.length || addresses.some((a) => isPublicAddress(a.address))) continue;
    const allowed = listed(p.privateNetworks);
    if (addresses.some((a) => allowed.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'))) continue;
    problems.push({
      path: ['identity', 'federation', name, 'privateNetworks'],
      message: `the issuer's host ${host} is not a public address and is not listed here, so every sign-in through ${name} would be refused; list its network (e.g. ${family === 6 ? `${host}/128` : family ? `${host}/32` : '127.0.0.1/32'})`,
    });
  }
  return problems;
}
