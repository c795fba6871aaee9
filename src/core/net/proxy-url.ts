/**
 * An HTTP egress proxy's URL, `http://[user:password@]host[:port]` or `https://…`, as the config
 * schema checks it and the CONNECT tunnel (src/core/http/proxy-tunnel.ts) uses it. The user
 * name and password are a secret: no problem message and no display form here contains them,
 * and a problem never quotes the URL.
 */
import { isIP } from 'node:net';

export interface ProxyUrl {
  protocol: 'http:' | 'https:';
  /** Host name or IP address, without the brackets of an IPv6 address. */
  hostname: string;
  port: number;
  /** `Proxy-Authorization` value from the URL's user info, when it has any. */
  authorization?: string;
  /** Safe to log and to put in an error: scheme, host and port, never the credentials. */
  display: string;
}

/** The parsed proxy URL, or a problem (which never quotes the URL). */
export function parseProxyUrl(text: string): ProxyUrl | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL; expected http://host:port or https://host:port';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'expected an http:// or https:// proxy URL';
  if (url.hostname === '') return 'the proxy URL names no host';
  // A path, query or fragment means nothing to CONNECT: most likely the URL of something else.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(text)) return 'a proxy URL has no path, query or fragment (http://host:port)';
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      return 'the user name or password is not correctly percent-encoded';
    }
    // RFC 7617: the user-id of Basic must not contain a colon; the password may.
    if (user.includes(':')) return 'the user name contains a colon, which Basic authentication cannot carry';
    authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const display = `${url.protocol}//${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`;
  return { protocol: url.protocol, hostname, port, display, ...(authorization !== undefined ? { authorization } : {}) };
}
