/**
 * `npm test`: typecheck, then every test file with Node's test runner.
 * Extra arguments are passed to `node --test` (e.g. a file or --test-name-pattern).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { COMPILE_CACHE_DIR } from '../src/cli/compile-cache.ts';

const root = join(import.meta.dirname, '..');
const tsc = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('typecheck failed');
  process.exit(tsc.status ?? 1);
}
const args = process.argv.slice(2);
const files = args.some((a) => !a.startsWith('-')) ? [] : ['test/**/*.test.ts', 'examples/**/*.test.ts'];
const run = spawnSync(process.execPath, [
  '--test',
  // Most suites wait on sockets and databases, not the CPU; a little parallelism pays on 2 cores.
  '--test-concurrency=3',
  '--test-timeout=180000',
  ...args,
  ...files,
], {
  stdio: 'inherit',
  cwd: root,
  // Every test file is a process that strips and compiles hundreds of TypeScript modules, and the
  // CLI suites start `gatehouse` some 200 times: Node's compile cache (src/cli/compile-cache.ts)
  // keeps that work between processes (test/cli/config.test.ts: 23.3 → 18.4 s of CPU).
  env: { NODE_COMPILE_CACHE: COMPILE_CACHE_DIR, ...process.env, NODE_ENV: 'test' },
});
process.exit(run.status ?? 1);
