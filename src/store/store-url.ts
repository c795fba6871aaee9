/**
 * Parses a store URL: `sqlite:<file path>`, `sqlite::memory:`, `sqlite:///abs/path`,
 * or `postgres://…` / `postgresql://…`.
 */
import { GatehouseError } from '../core/errors.ts';
import type { StoreDialect } from './types.ts';

export interface ParsedStoreUrl {
  dialect: StoreDialect;
  /** File path or `:memory:` for SQLite; the connection string for PostgreSQL. */
  location: string;
  /** Safe to log: no password. */
  display: string;
}

export function parseStoreUrl(url: string): ParsedStoreUrl {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '' || path.includes('\0')) {
      throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'store.url: sqlite URL needs a file path or :memory:' });
    }
    return { dialect: 'sqlite', location: path, display: `sqlite:${path}` };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      // The URL may hold a password: it goes neither into the message nor the cause.
      throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'store.url: not a valid postgres:// URL' });
    }
    if (parsed.password) parsed.password = '***';
    // pg also takes the password as a parameter (`?password=`).
    for (const key of [...parsed.searchParams.keys()]) {
      if (key.toLowerCase() === 'password') parsed.searchParams.set(key, '***');
    }
    return { dialect: 'postgres', location: url, display: parsed.toString() };
  }
  throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'store.url: expected sqlite:<path>, sqlite::memory: or postgres://…' });
}
