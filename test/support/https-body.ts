/** The body of a GET over HTTPS to a test server on loopback (self-signed certificate, a fresh connection). */
import { request } from 'node:https';

export function httpsBody(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}
