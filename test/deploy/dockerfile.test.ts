/**
 * The container image (Dockerfile at the repository root). No Docker engine runs in CI, so the
 * image is not built here: the Dockerfile is parsed with dockerfile-ast (Docker's own grammar,
 * continuation lines, exec/shell forms) and held to the rules docs/deployment.md promises.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type From, type Instruction } from 'dockerfile-ast';

const root = join(import.meta.dirname, '..', '..');
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

interface Stage { from: From; instructions: Instruction[] }

/** Instructions grouped by the FROM that opens their stage. */
function stages(): Stage[] {
  const out: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') out.push({ from: instruction as From, instructions: [] });
    else out.at(-1)?.instructions.push(instruction);
  }
  return out;
}

const all = stages();
const runtime = all.at(-1)!;
const build = all[0]!;
const of = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');
/** Whole instructions (with their --flags, which the arguments leave out). */
const whole = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword).map((i) => i.getTextContent());
/** Value of an ARG declared before the first FROM. */
const initialArg = (name: string) => dockerfile.getInitialARGs().flatMap((a) => a.getProperties()).find((p) => p.getName() === name)?.getValue();
const pinnedMajor = pkg.dependencies.node!.split('.')[0]!;

describe('Dockerfile', () => {
  it('is multi-stage: a build stage installs production dependencies only with npm ci --omit=dev', () => {
    assert.ok(all.length >= 2, 'at least a build and a run stage');
    const installs = of(build, 'RUN').join('\n');
    assert.match(installs, /npm ci\b[^\n]*--omit=dev/);
    assert.doesNotMatch(installs, /npm install\b/, 'npm ci from the lockfile, never npm install');
    assert.ok(build.from.getBuildStage(), 'the build stage is named');
    // The run stage copies from the build stage, not from the build context's node_modules.
    assert.ok(whole(runtime, 'COPY').some((c) => c.includes(`--from=${build.from.getBuildStage()}`) && c.includes('node_modules')));
  });

  it('builds with the same Node major as the runtime package.json pins, and runs the pinned binary', () => {
    assert.equal(initialArg('NODE_MAJOR'), pinnedMajor, `ARG NODE_MAJOR must be the major of package.json's node dependency (${pkg.dependencies.node})`);
    assert.equal(build.from.getImageName(), 'node');
    assert.match(build.from.getImageTag() ?? '', /^\$\{NODE_MAJOR\}-/);
    // The process runs on node_modules/node's binary (the exact version package-lock.json pins).
    const entrypoint = JSON.parse(of(runtime, 'ENTRYPOINT')[0] ?? 'null') as string[] | null;
    assert.ok(Array.isArray(entrypoint), 'ENTRYPOINT in exec form: no shell between the runtime and the process (signals reach Gatehouse)');
    assert.equal(entrypoint[0], '/app/node_modules/node/bin/node');
    assert.equal(entrypoint[1], '/app/src/cli/main.ts');
    assert.ok(existsSync(join(root, 'src', 'cli', 'main.ts')));
    // The build fails when the fetched runtime is another major.
    assert.match(of(build, 'RUN').join('\n'), new RegExp(`!== "${pinnedMajor}"`));
  });

  it('runs as a numeric non-root user, on a base image without a shell', () => {
    const users = of(runtime, 'USER');
    assert.equal(users.length, 1);
    const [uid, gid] = users[0]!.split(':');
    assert.match(uid!, /^\d+$/, 'numeric, so that Kubernetes runAsNonRoot can check it');
    assert.notEqual(Number(uid), 0);
    assert.notEqual(Number(gid ?? uid), 0);
    assert.equal(runtime.from.getRegistry(), 'gcr.io');
    assert.match(runtime.from.getImageName() ?? '', /^distroless\//, 'distroless: no shell or package manager at run time');
    assert.equal(of(runtime, 'RUN').length, 0, 'the run stage has no RUN (there is no shell to run it)');
  });

  it('defaults to NODE_ENV=production in the run stage', () => {
    const env = runtime.instructions.filter((i) => i.getKeyword() === 'ENV').flatMap((i) => (i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties());
    assert.equal(env.find((p) => p.getName() === 'NODE_ENV')?.getValue(), 'production');
  });

  it('declares the /data volume, the public, redirect and ops ports, OCI labels and no HEALTHCHECK', () => {
    assert.deepEqual(of(runtime, 'VOLUME').map((v) => JSON.parse(v) as string[]), [['/data']]);
    const ports = of(runtime, 'EXPOSE').join(' ').split(/\s+/).filter(Boolean).sort();
    assert.deepEqual(ports, ['8080', '8443', '9090']);
    const labels = of(runtime, 'LABEL').join(' ');
    for (const key of ['title', 'source', 'licenses', 'version', 'revision']) assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`));
    assert.equal(dockerfile.getHEALTHCHECKs().length, 0, 'Kubernetes probes the ops port; a HEALTHCHECK would run a second, unconfigurable check');
  });

  it('keeps local installs, data directories and the repository out of the build context', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '**', 'deny by default');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
    assert.deepEqual(allowed.sort(), ['bin/', 'package-lock.json', 'package.json', 'src/']);
    // Every file the Dockerfile copies from the context is in the allowed set.
    for (const copy of of(build, 'COPY')) {
      for (const source of copy.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1)) {
        assert.ok(allowed.includes(source) || allowed.includes(`${source}/`), `${source} is copied but .dockerignore excludes it`);
      }
    }
  });
});
