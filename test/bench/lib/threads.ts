/**
 * Moves named threads of a running process to another CPU (`taskset -p` on each thread id):
 * e.g. Gatehouse's audit commit thread (`audit-commit`) onto the load core while the rest of
 * the process stays on the proxy core. A thread's name is its `comm` in /proc (a Node worker
 * thread's is its `name` option). Threads started later are not moved: call it again.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Pins every thread of `pid` whose name is a key of `cpuByName` to that CPU; returns how many it pinned. */
export function pinNamedThreads(pid: number, cpuByName: ReadonlyMap<string, number>): number {
  let pinned = 0;
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return 0; } // the process ended
  for (const tid of tids) {
    let name: string;
    try { name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(); } catch { continue; } // the thread ended
    const cpu = cpuByName.get(name);
    if (cpu === undefined) continue;
    execFileSync('taskset', ['-p', '-c', String(cpu), tid], { stdio: 'ignore' });
    pinned += 1;
  }
  return pinned;
}
