/**
 * An HTTP agent that connects only to public addresses, for requests whose destination someone
 * outside Gatehouse chose: the token, key and userinfo endpoints named by an external OpenID
 * provider's discovery document. Whoever controls that document (a compromised or hostile
 * provider, or whoever can alter it) could otherwise make Gatehouse send requests, with its client
 * secret, into the network it sits in: a cloud metadata service, the ops listener, a database's
 * HTTP port, an internal admin API (server-side request forgery).
 *
 * The check is made where the connection is made, on the address actually connected to: the
 * name is resolved here, every address it resolves to is judged, and the socket is opened to an
 * address that passed (TLS still verifies the certificate against the name). A name that resolves
 * to a public address when checked and to a private one when connecting (DNS rebinding) therefore
 * gets nowhere, and neither does a redirect, which is a new connection. Networks an operator runs
 * a provider in (an in-cluster Keycloak) are allowed by listing them.
 *
 * Behind an egress proxy (`proxy`), the same judging is done here, and the proxy is asked to
 * CONNECT to the address that passed, not to the name (proxy-tunnel.ts); TLS runs over the
 * tunnel, checked against the name. The proxy's own address is the operator's and not judged.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { parseCidr } from '../net/cidr.ts';
import { isPublicAddress } from '../net/public-address.ts';
import { parseProxyUrl } from '../net/proxy-url.ts';
import { proxyTunnel, type ProxyTunnelOptions } from './proxy-tunnel.ts';

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface AddressGuardOptions {
  /** Networks (CIDRs, as config validated them) reached although not public. */
  allowedNetworks: readonly string[];
  /** Config path of the allow list, named in the refusal so an operator knows what to change. */
  allowListPath: string;
  /** TLS options of the connections (a private CA's certificates). */
  tls?: { ca?: string };
  /**
   * An HTTP egress proxy (`http(s)://[user:password@]host:port`, as config validated it): each
   * connection is a CONNECT tunnel to the address judged (proxy-tunnel.ts). Default: direct.
   */
  proxy?: { url: string } & ProxyTunnelOptions;
  /** Name resolution (default: the system resolver, every address). */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

/** The error a refused connection fails with (the cause of the request's failure). */
export class AddressNotAllowedError extends Error {
  readonly code = 'ERR_ADDRESS_NOT_ALLOWED';
}

const systemResolve = (hostname: string): Promise<ResolvedAddress[]> => dnsLookup(hostname, { all: true, order: 'verbatim' });

/** A BlockList of `cidrs`, each already checked by the config schema. */
function networkList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const range = parseCidr(text);
    if (typeof range === 'string') throw new Error(range);
    list.addSubnet(range.address, range.prefix, range.family);
  }
  return list;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

function proxyTunnelOf({ url, ...options }: { url: string } & ProxyTunnelOptions) {
  const proxy = parseProxyUrl(url);
  // The schema checked it; the problem never quotes the URL (it may hold a password).
  if (typeof proxy === 'string') throw new Error(`proxy: ${proxy}`);
  return proxyTunnel(proxy, options);
}

/** An undici connector that opens sockets only to public or listed addresses. */
export function addressGuardedConnector(options: AddressGuardOptions): buildConnector.connector {
  const allowed = networkList(options.allowedNetworks);
  const resolve = options.resolve ?? systemResolve;
  // No TLS session cache: undici keys it by name, so a session (its ticket, bytes the server
  // chose) got from one address would be offered in the ClientHello to whatever address the
  // name resolves to next, a plain-text service in a listed network included ("TLS poisoning").
  // Connections to a provider are few and kept alive; resumption saves next to nothing.
  const connect = buildConnector({ maxCachedSessions: 0, ...(options.tls?.ca ? { ca: options.tls.ca } : {}) });
  const tunnel = options.proxy === undefined ? undefined : proxyTunnelOf(options.proxy);
  const permitted = (a: ResolvedAddress) => isPublicAddress(a.address) || allowed.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4');
  return (target, callback) => {
    const hostname = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const literal = isIP(hostname);
    const addresses = literal ? Promise.resolve([{ address: hostname, family: literal }]) : resolve(hostname);
    addresses.then((all) => {
      const chosen = all.find(permitted);
      if (chosen === undefined) {
        const list = all.map((a) => a.address).join(', ') || 'no address';
        callback(new AddressNotAllowedError(`connection to ${hostname} (${list}) refused: not a public address, and ${options.allowListPath} does not list it`), null);
        return;
      }
      // Connect to the address judged; the certificate is still checked against the name.
      const toChosen = { ...target, hostname: chosen.address, ...(literal ? {} : { servername: target.servername ?? hostname }) };
      if (tunnel === undefined) { connect(toChosen, callback); return; }
      // Through the proxy, to the same address (not the name: the proxy's DNS has no say).
      const tls = target.protocol === 'https:';
      tunnel(chosen.address, Number(target.port) || (tls ? 443 : 80)).then((socket) => {
        if (tls) connect({ ...toChosen, httpSocket: socket }, callback);
        else callback(null, socket); // plain HTTP (allowInsecureHttp, development): the tunnel is the connection
      }, (error: unknown) => callback(asError(error), null));
    }, (error: unknown) => callback(asError(error), null));
  };
}

/** An undici Agent whose connections go through {@link addressGuardedConnector}. */
export function addressGuardedAgent(options: AddressGuardOptions): Agent {
  return new Agent({ connect: addressGuardedConnector(options) });
}
