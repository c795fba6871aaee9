/**
 * Runs `gatehouse start` for the supervisor, and stops it (SIGTERM: the CLI's graceful
 * shutdown) when the supervisor's pipe on stdin closes — the supervisor is gone.
 */
import { watchParent } from '../shared/run-main.ts';

watchParent(() => process.kill(process.pid, 'SIGTERM'));
process.argv = [process.argv[0]!, 'gatehouse', 'start', ...process.argv.slice(2)];
await import('../../../src/cli/main.ts');
