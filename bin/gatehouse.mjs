#!/usr/bin/env node
// Launcher: runs the CLI on the project's pinned Node.js (the `node` dependency), whatever
// `node` is first on PATH, because Gatehouse needs Node ≥ 24 (type stripping, crypto.argon2).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
const runtime = Number(process.versions.node.split('.')[0]) >= 24 ? process.execPath : pinned;
if (!existsSync(runtime)) {
  console.error(`gatehouse: Node.js >= 24 is required; run "npm ci" in ${root} to install the pinned runtime`);
  process.exit(1);
}
const result = spawnSync(runtime, [join(root, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
