/** `npm run docs`: regenerates the docs that are derived from code. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configReference, errorReference } from '../src/core/config/reference.ts';

const docs = join(import.meta.dirname, '..', 'docs');
writeFileSync(join(docs, 'configuration.md'), configReference());
writeFileSync(join(docs, 'errors.md'), errorReference());
console.log('wrote docs/configuration.md and docs/errors.md');
