/**
 * Renders the configuration reference (docs/configuration.md) and the error code table
 * (docs/errors.md) from the schema and the code registry, so the docs cannot drift:
 * test/docs/generated-docs.test.ts fails when the committed files differ.
 */
import { z } from 'zod';
import { configSchema } from './schema.ts';
import { ERROR_CODES } from '../error-codes.ts';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `array of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) return 'map of name → object';
  const base = Array.isArray(s.type) ? s.type.join(' \\| ') : s.type ?? 'any';
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` (${s.minimum ?? ''}…${s.maximum ?? ''})` : '';
  return base + (s.format ? ` (${s.format})` : '') + range;
}

function rows(schema: JsonSchema, path: string, out: string[]): void {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const def = schema.default === undefined || (typeof schema.default === 'object' && schema.default !== null && !Array.isArray(schema.default))
    ? '' : `\`${JSON.stringify(schema.default)}\``;
  if (path) out.push(`| \`${path}\` | ${typeOf(schema)} | ${def} | ${cell(schema.description ?? '')} |`);
  if (schema.properties) for (const [k, v] of Object.entries(schema.properties)) rows(v, path ? `${path}.${k}` : k, out);
  if (schema.type === 'array' && schema.items?.properties) rows({ ...schema.items, type: 'object', description: undefined, default: undefined } as JsonSchema, `${path}[]`, out);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object' && schema.additionalProperties.properties) rows(schema.additionalProperties, `${path}.<name>`, out);
}

export function configReference(): string {
  const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/core/config/*-schema.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Gatehouse reads one YAML or JSON file (`gatehouse start --config FILE`). Every object is strict:',
    'an unknown key is an error that names its path. `${NAME}` in any string value is replaced by the',
    'environment variable NAME, once (its value is not read again for references, and cannot add keys).',
    'A variable that is not set or is empty is an error, and so is any other `${` (`${NAME:-default}` is',
    'not supported). `gatehouse config defaults` prints the defaults; `gatehouse config validate FILE`',
    'checks a file without starting.',
    '',
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
  ];
  rows(json, '', out);
  return out.join('\n') + '\n';
}

export function errorReference(): string {
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from src/core/error-codes.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Every error response carries a stable code: `{"error":{"code":"…","message":"…","requestId":"…"}}`',
    '(an HTML page for browsers). The message is short and public; the cause is only in the logs and',
    'the audit log, found by the request id.',
    '',
    '| code | HTTP status | public message |',
    '| --- | --- | --- |',
  ];
  for (const [code, { status, message }] of Object.entries(ERROR_CODES)) out.push(`| \`${code}\` | ${status} | ${message} |`);
  return out.join('\n') + '\n';
}
