/**
 * `__proto__`, `constructor` and `prototype` keys in a configuration file: never a way to
 * change an object's prototype, never dropped without a word.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile } from '../../src/core/config/load.ts';

async function load(text: string) {
  const dir = await mkdtemp(join(tmpdir(), 'gh-proto-'));
  try {
    await writeFile(join(dir, 'c.yaml'), text);
    return await loadConfigFile(join(dir, 'c.yaml'), { env: { NODE_ENV: 'test' } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('prototype keys in the configuration', () => {
  it('refuses a __proto__ key inside a map (tracing.headers, federation roleMapping, sampling routes) instead of dropping it silently', async () => {
    for (const text of [
      'tracing:\n  headers:\n    __proto__: "Bearer x"\n',
      'identity:\n  federation:\n    corp: { issuer: "https://idp.example", clientId: c, roleMapping: { __proto__: [admin], staff: [user] } }\n',
      'audit:\n  sampling:\n    routes: { __proto__: 0.5 }\n',
      '{"tracing": {"headers": {"__proto__": {"authorization": "x"}}}}',
    ]) {
      await assert.rejects(load(text), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.problems.some((p) => p.path.at(-1) === '__proto__' && /__proto__/.test(p.message)), err.message);
        return true;
      }, text);
    }
  });

  it('a __proto__ key never reaches Object.prototype', async () => {
    await load('logging: { level: info }\n').catch(() => undefined);
    await load('__proto__: { polluted: true }\nlogging: { __proto__: { polluted: true } }\n').catch(() => undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it('constructor and prototype are ordinary names where names are free (an upstream, a header)', async () => {
    const { config } = await load('upstreams:\n  constructor: { url: "http://127.0.0.1:1" }\nroutes: [ { id: r, upstream: constructor, access: public } ]\ntracing: { headers: { prototype: x } }\n');
    assert.ok(Object.hasOwn(config.upstreams, 'constructor'));
    assert.equal(config.tracing.headers.prototype, 'x');
  });
});
