/**
 * Command-line options of `npm run bench`.
 */
import { parseArgs } from 'node:util';
import type { BenchOptions, Section } from './section.ts';

/** The command line, checked: options for the sections plus what the harness itself does. */
export interface ParsedArgs {
  help: boolean;
  options: BenchOptions;
  /** Section names to run; `undefined` runs them all. */
  only: string[] | undefined;
  /** Write results/*.json and (unless --quick) BENCHMARKS.md. */
  write: boolean;
  keepTmp: boolean;
  /** The arguments as given, for the command recorded with the results. */
  argv: string[];
}

/** `--help` text, listing the registered sections. */
export function usage(sections: Section[]): string {
  return `Usage: npm run bench -- [options]

  --duration S        seconds of each measured wrk run (default 10; --quick: 2)
  --rounds N          closed-loop rounds of the proxy section: each runs every target once,
                      in turn, every other round in reverse order; ratios are medians of
                      per-round ratios (default 4; --quick: 1)
  --warmup S          seconds of warm-up per target (default 3; --quick: 1)
  --connections LIST  comma-separated concurrency levels (default 100,1000)
  --rate LIST         comma-separated request rates of the fixed-rate latency runs
                      (default 2000,5000)
  --rate-duration S   measured seconds of each fixed-rate run, after 2 s of warm-up
                      (default 6; --quick: 2)
  --quick             short smoke run; writes results/quick.json, leaves BENCHMARKS.md alone
  --only LIST         comma-separated sections to run
  --targets LIST      in sections with several targets, measure only these
                      (proxy: direct,nginx,minimal-node,gatehouse)
  --no-pin            do not pin processes to CPUs with taskset
  --quiet-wait S      before each target, wait up to S seconds for one second in which
                      other processes use < 25 % of a core (default 3; --quick: 0)
  --nice N            niceness of every benchmark process (default -10 as root, else 0;
                      0 leaves priorities alone)
  --gatehouse-tree T  'head' (default): run Gatehouse from an export of the last commit;
                      'worktree': run it from the work tree, uncommitted changes included
  --gatehouse-ref R   with 'head': export this git revision instead of HEAD (compare commits)
  --no-write          print only; write no result files
  --profile           V8 CPU profile of Gatehouse (node --cpu-prof) into test/bench/results/profiles/
  --keep-tmp          keep the temp directory (configs, logs) for inspection
  --help

Sections:
${sections.map((s) => `  ${s.name.padEnd(18)} ${s.description}`).join('\n')}
`;
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

/** Parses and checks the options; throws with a message naming the bad option. */
export function parseBenchArgs(argv: string[], sectionNames: string[]): ParsedArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      'rate-duration': { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      targets: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'gatehouse-tree': { type: 'string', default: 'head' },
      'gatehouse-ref': { type: 'string', default: 'HEAD' },
      nice: { type: 'string' },
      'quiet-wait': { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'keep-tmp': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick;
  const durationS = positive('duration', values.duration, quick ? 2 : 10);
  const connections = (values.connections ?? '100,1000').split(',').map((c) => Math.round(positive('connections', c.trim(), 1)));
  const only = values.only?.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = only?.filter((name) => !sectionNames.includes(name)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${sectionNames.join(', ')}`);
  const nice = values.nice === undefined ? (process.getuid?.() === 0 ? -10 : 0) : Number(values.nice);
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new Error(`--nice must be an integer from -20 to 19, got ${JSON.stringify(values.nice)}`);
  const tree = values['gatehouse-tree'];
  if (tree !== 'head' && tree !== 'worktree') throw new Error(`--gatehouse-tree must be head or worktree, got ${JSON.stringify(tree)}`);
  const ref = values['gatehouse-ref'];
  // Passed to git as an argument: a revision name, never an option.
  if (!/^[A-Za-z0-9._/~^@{}-]{1,200}$/.test(ref) || ref.startsWith('-')) throw new Error(`--gatehouse-ref must be a git revision, got ${JSON.stringify(ref)}`);
  return {
    help: values.help,
    options: {
      durationS,
      rounds: Math.max(1, Math.round(positive('rounds', values.rounds, quick ? 1 : 4))),
      warmupS: positive('warmup', values.warmup, quick ? 1 : 3),
      rates: (values.rate ?? '2000,5000').split(',').map((r) => Math.round(positive('rate', r.trim(), 1))),
      rateDurationS: positive('rate-duration', values['rate-duration'], quick ? 2 : 6),
      connections,
      quick,
      targets: values.targets?.split(',').map((name) => name.trim()).filter(Boolean),
      pin: !values['no-pin'],
      gatehouseTree: tree,
      gatehouseRef: ref,
      nice,
      profile: values.profile,
      quietWaitS: values['quiet-wait'] === '0' ? 0 : positive('quiet-wait', values['quiet-wait'], quick ? 0 : 3),
    },
    only,
    write: !values['no-write'],
    keepTmp: values['keep-tmp'],
    argv,
  };
}
