/**
 * The Helm chart (deploy/helm/gatehouse) rendered by the real `helm` binary: lint, the values
 * schema refusing bad values, the rendered objects checked against the Kubernetes OpenAPI
 * schemas (kubernetes-models' validators; no cluster needed), the properties docs/deployment.md
 * promises (probes on the ops port, hardened pods, no secret inlined, NetworkPolicies, PDB),
 * and the gatehouse.yaml it writes accepted by the real `gatehouse config validate` in
 * production mode, so the chart cannot ship a configuration Gatehouse refuses.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse, parseAllDocuments } from 'yaml';
import { deployTool } from './tools.ts';

const root = join(import.meta.dirname, '..', '..');
const chart = join(root, 'deploy', 'helm', 'gatehouse');
const multiInstance = join(chart, 'ci', 'multi-instance-values.yaml');
const PUBLIC_URL = 'https://gatehouse.example.com';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: any };

let helmBin = '';
let work = '';

function helm(args: string[]): { status: number | null; out: string; stdout: string } {
  // HELM_* homes inside a temporary directory: the test reads and writes nothing of the user's helm.
  const env = { ...process.env, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config'), HELM_DATA_HOME: join(work, 'data') };
  const r = spawnSync(helmBin, args, { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

function render(...valueArgs: string[]): K8sObject[] {
  const r = helm(['template', 'gh', chart, '--namespace', 'edge', ...valueArgs]);
  assert.equal(r.status, 0, r.out);
  return parseAllDocuments(r.out).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
}

const one = (objects: K8sObject[], kind: string, name?: string) => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!;
};
const container = (objects: K8sObject[]) => one(objects, 'Deployment').spec.template.spec.containers[0];
const gatehouseYaml = (objects: K8sObject[]) => one(objects, 'ConfigMap', 'gh-gatehouse').data['gatehouse.yaml'] as string;

/** Every object through the validator generated from the Kubernetes OpenAPI schema of its kind. */
async function validateAgainstOpenApi(objects: K8sObject[]): Promise<string[]> {
  const checked: string[] = [];
  for (const o of objects) {
    if (o.apiVersion === 'monitoring.coreos.com/v1') continue; // a CRD: checked by hand below
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    const module = await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = module[o.kind]!;
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name} against the ${o.apiVersion} schema`);
    checked.push(o.kind);
  }
  return checked;
}

/** `gatehouse config validate` on the rendered file, as production with the env the pod gets. */
function gatehouseValidate(text: string, extraEnv: Record<string, string> = {}) {
  const file = join(work, `gatehouse-${randomBytes(4).toString('hex')}.yaml`);
  writeFileSync(file, text, { mode: 0o600 });
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    GATEHOUSE_PKI_KEY: randomBytes(32).toString('base64url'),
    GATEHOUSE_KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64url'),
    GATEHOUSE_DB_PASSWORD: 'db-password',
    GATEHOUSE_REDIS_PASSWORD: 'redis-password',
    GATEHOUSE_NATS_PASSWORD: 'nats-password',
    ...extraEnv,
  };
  const r = spawnSync(join(root, 'node_modules', '.bin', 'node'), [join(root, 'bin', 'gatehouse.mjs'), 'config', 'validate', file], { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Helm chart deploy/helm/gatehouse', () => {
  let defaults: K8sObject[];
  let multi: K8sObject[];

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'gatehouse-helm-'));
    helmBin = deployTool('helm');
    defaults = render('--set', `publicUrl=${PUBLIC_URL}`);
    multi = render('-f', multiInstance);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('passes helm lint --strict with the default values and with the multi-instance values', () => {
    const lintDefaults = helm(['lint', '--strict', chart, '--set', `publicUrl=${PUBLIC_URL}`]);
    assert.equal(lintDefaults.status, 0, lintDefaults.out);
    const lintMulti = helm(['lint', '--strict', chart, '-f', multiInstance]);
    assert.equal(lintMulti.status, 0, lintMulti.out);
  });

  it('renders the default and the multi-instance values exactly as recorded (persistence off changes nothing)', () => {
    // test/deploy/fixtures/chart-render-*.yaml are `helm template gh deploy/helm/gatehouse
    // --namespace edge` of these values, recorded before the chart had persistence. A change to
    // the chart meant for everyone re-records them with that command; an unmeant one fails here.
    for (const [fixture, args] of [['defaults', ['--set', `publicUrl=${PUBLIC_URL}`]], ['multi-instance', ['-f', multiInstance]]] as const) {
      const r = helm(['template', 'gh', chart, '--namespace', 'edge', ...args]);
      assert.equal(r.status, 0, r.out);
      const recorded = readFileSync(join(import.meta.dirname, 'fixtures', `chart-render-${fixture}.yaml`), 'utf8').split('\n');
      const rendered = r.stdout.split('\n');
      const at = rendered.findIndex((line, i) => line !== recorded[i]);
      assert.ok(at < 0 && rendered.length === recorded.length,
        `${fixture}: the render differs from the recorded one at line ${at + 1}: ${JSON.stringify(rendered[at])}, recorded ${JSON.stringify(recorded[at])}`);
    }
  });

  it('refuses to render without publicUrl, the origin every instance must share', () => {
    const r = helm(['template', 'gh', chart]);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /publicUrl is required/);
  });

  for (const [what, args, error] of [
    ['a string for replicaCount', ['--set', 'replicaCount=two'], /replicaCount/],
    ['sslmode=require (no certificate check on the database link)', ['--set', 'store.sslmode=require'], /sslmode/],
    ['a writable root filesystem', ['--set', 'securityContext.readOnlyRootFilesystem=false'], /readOnlyRootFilesystem/],
    ['running as root', ['--set', 'podSecurityContext.runAsNonRoot=false'], /runAsNonRoot/],
    ['an Unconfined seccomp profile on the container', ['--set', 'securityContext.seccompProfile.type=Unconfined'], /seccompProfile/],
    ['an Unconfined seccomp profile on the pod', ['--set', 'podSecurityContext.seccompProfile.type=Unconfined'], /seccompProfile/],
    ['no seccomp profile on the pod (the containers would run Unconfined)', ['--set', 'podSecurityContext.seccompProfile=null'], /seccompProfile/],
    ['an Unconfined AppArmor profile on the pod', ['--set', 'podSecurityContext.appArmorProfile.type=Unconfined'], /appArmorProfile/],
    ['an Unconfined AppArmor profile on the container', ['--set', 'securityContext.appArmorProfile.type=Unconfined'], /appArmorProfile/],
    ['an unmasked /proc in the container', ['--set', 'securityContext.procMount=Unmasked'], /procMount/],
    ['root\'s group as a supplemental group', ['--set', 'podSecurityContext.supplementalGroups={0}'], /supplementalGroups/],
    ['the super-privileged SELinux type spc_t', ['--set', 'securityContext.seLinuxOptions.type=spc_t'], /seLinuxOptions|type/],
    ['a key the container security context does not know (a typo is not silently ignored)', ['--set', 'securityContext.readOnlyRootFileSystem=true'], /readOnlyRootFileSystem/],
    ['preStopSleepSeconds=0 (no time for endpoints to drop the pod; a zero sleep is refused by Kubernetes < 1.33)', ['--set', 'preStopSleepSeconds=0'], /preStopSleepSeconds/],
    ['terminationExtraSeconds=0 (the kill would cut the audit flush after the drain)', ['--set', 'terminationExtraSeconds=0'], /terminationExtraSeconds/],
    ['an http:// publicUrl', ['--set', 'publicUrl=http://gatehouse.example.com'], /publicUrl/],
    ['an unknown top-level value (a typo is not silently ignored)', ['--set', 'replicas=3'], /replicas/],
    ['a secret value where a Secret name belongs', ['--set', 'store.passwordSecret=hunter2'], /passwordSecret/],
    // A container's later env entry of the same name wins: production mode switched off from values.
    ['extraEnv NODE_ENV=development after the chart\'s NODE_ENV=production (the later entry wins)', ['--set', 'extraEnv[0].name=NODE_ENV', '--set', 'extraEnv[0].value=development'], /extraEnv/],
    ['extraEnv replacing the CA master key from a Secret with a plain value', ['--set', 'extraEnv[0].name=GATEHOUSE_PKI_KEY', '--set', 'extraEnv[0].value=plain'], /extraEnv/],
  ] as const) {
    it(`fails helm lint and helm template on ${what}`, () => {
      const lint = helm(['lint', chart, '--set', `publicUrl=${PUBLIC_URL}`, ...args]);
      assert.notEqual(lint.status, 0, lint.out);
      assert.match(lint.out, error);
      assert.notEqual(helm(['template', 'gh', chart, '--set', `publicUrl=${PUBLIC_URL}`, ...args]).status, 0);
    });
  }

  it('refuses an autoscaled release without Redis or NATS (the HPA runs several instances whatever replicaCount says)', () => {
    for (const missing of ['redis.host=', 'nats.host=']) {
      const r = helm(['template', 'gh', chart, '--set', `publicUrl=${PUBLIC_URL}`, '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=true', '--set', missing]);
      assert.notEqual(r.status, 0, `${missing}: ${r.out}`);
      assert.match(r.out, /several replicas need redis\.host/);
    }
    // One instance, no autoscaler: Redis and NATS are optional.
    render('--set', `publicUrl=${PUBLIC_URL}`, '--set', 'replicaCount=1', '--set', 'redis.host=', '--set', 'nats.host=');
  });

  it('refuses several replicas on an SQLite store written in config (a separate database, keys and audit chain in each pod)', () => {
    for (const scale of [['--set', 'replicaCount=2'], ['--set', 'replicaCount=1', '--set', 'autoscaling.enabled=true']]) {
      const r = helm(['template', 'gh', chart, '--set', `publicUrl=${PUBLIC_URL}`, ...scale, '--set', 'config.store.url=sqlite:/data/gatehouse/gatehouse.db']);
      assert.notEqual(r.status, 0, r.out);
      assert.match(r.out, /several replicas need the shared PostgreSQL store: config\.store\.url is SQLite/);
    }
    // One instance on SQLite (the embedded shape) renders.
    render('--set', `publicUrl=${PUBLIC_URL}`, '--set', 'replicaCount=1', '--set', 'redis.host=', '--set', 'nats.host=', '--set', 'config.store.url=sqlite:/data/gatehouse/gatehouse.db');
  });

  it('renders objects valid against the Kubernetes OpenAPI schemas', async () => {
    const kinds = [...await validateAgainstOpenApi(defaults), ...await validateAgainstOpenApi(multi)];
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'NetworkPolicy', 'HorizontalPodAutoscaler', 'ServiceAccount']) {
      assert.ok(kinds.includes(kind), `${kind} rendered and validated`);
    }
    const monitor = one(multi, 'ServiceMonitor');
    assert.deepEqual(monitor.spec.endpoints, [{ port: 'ops', path: '/metrics', scheme: 'http', interval: '30s' }]);
    assert.equal(monitor.spec.selector.matchLabels['app.kubernetes.io/component'], 'ops');
  });

  it('runs several instances by default, rolling one at a time, spread over nodes, with a PodDisruptionBudget', () => {
    const deployment = one(defaults, 'Deployment');
    assert.ok(deployment.spec.replicas >= 2);
    assert.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const spread = deployment.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    assert.equal(spread.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(spread.labelSelector.matchLabels, deployment.spec.selector.matchLabels);
    assert.deepEqual(one(defaults, 'PodDisruptionBudget').spec, { maxUnavailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
    // Multi-instance: required anti-affinity, and the HPA owns the replica count.
    const hard = one(multi, 'Deployment');
    assert.equal(hard.spec.replicas, undefined);
    assert.equal(hard.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, 'kubernetes.io/hostname');
    assert.equal(one(multi, 'HorizontalPodAutoscaler').spec.minReplicas, 3);
  });

  it('probes /healthz and /readyz on the ops port, which the config binds to the pod address', () => {
    const c = container(defaults);
    const opsPort = c.ports.find((p: { name: string }) => p.name === 'ops');
    const config = parse(gatehouseYaml(defaults));
    assert.equal(opsPort.containerPort, config.listeners.ops.port);
    assert.equal(config.listeners.ops.host, '0.0.0.0', 'probes come from the kubelet, not from loopback');
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'ops' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'ops' });
    assert.deepEqual(c.startupProbe.httpGet, { path: '/healthz', port: 'ops' });
    assert.equal(c.ports.find((p: { name: string }) => p.name === 'https').containerPort, config.listeners.https.port);
    // The ops Service answers to its own name (listeners.ops.allowedHosts), else 421.
    assert.ok(config.listeners.ops.allowedHosts.includes('gh-gatehouse-ops.edge.svc'));
  });

  it('renders every probe value the schema accepts (none silently dropped)', () => {
    const c = container(render('--set', `publicUrl=${PUBLIC_URL}`,
      '--set', 'probes.startup.periodSeconds=4', '--set', 'probes.startup.timeoutSeconds=7', '--set', 'probes.startup.failureThreshold=90',
      '--set', 'probes.liveness.timeoutSeconds=6', '--set', 'probes.readiness.timeoutSeconds=5'));
    assert.deepEqual([c.startupProbe.periodSeconds, c.startupProbe.timeoutSeconds, c.startupProbe.failureThreshold], [4, 7, 90]);
    assert.equal(c.livenessProbe.timeoutSeconds, 6);
    assert.equal(c.readinessProbe.timeoutSeconds, 5);
  });

  it('keeps the ops port off the public Service: only a ClusterIP ops Service has it', () => {
    const publicService = one(defaults, 'Service', 'gh-gatehouse');
    assert.deepEqual(publicService.spec.ports.map((p: { targetPort: string }) => p.targetPort).sort(), ['http', 'https']);
    const ops = one(defaults, 'Service', 'gh-gatehouse-ops');
    assert.equal(ops.spec.type, 'ClusterIP');
    assert.deepEqual(ops.spec.ports.map((p: { targetPort: string }) => p.targetPort), ['ops']);
  });

  it('gives the pod time to drain: preStop sleep + shutdownGraceMs + flush before the kill', () => {
    for (const [objects, grace] of [[defaults, 10_000], [render('--set', `publicUrl=${PUBLIC_URL}`, '--set', 'shutdownGraceMs=45500'), 45_500]] as const) {
      const spec = one(objects, 'Deployment').spec.template.spec;
      const sleep = spec.containers[0].lifecycle.preStop.sleep.seconds;
      assert.equal(parse(gatehouseYaml(objects)).limits.shutdownGraceMs, grace);
      assert.ok(spec.terminationGracePeriodSeconds >= sleep + Math.ceil(grace / 1000) + 5, `${spec.terminationGracePeriodSeconds}s leaves Gatehouse its drain`);
    }
  });

  it('renders the confining security context settings an operator may add (RuntimeDefault AppArmor, an MCS level, a namespaced sysctl, OnRootMismatch)', () => {
    const r = helm(['template', 'gh', chart, '--set', `publicUrl=${PUBLIC_URL}`,
      '--set', 'podSecurityContext.appArmorProfile.type=RuntimeDefault', '--set', 'securityContext.seLinuxOptions.level=s0:c123',
      '--set', 'podSecurityContext.sysctls[0].name=net.ipv4.ip_local_port_range', '--set', 'podSecurityContext.sysctls[0].value=1024 65000',
      '--set', 'podSecurityContext.fsGroupChangePolicy=OnRootMismatch', '--set', 'securityContext.procMount=Default']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /appArmorProfile:\s+type: RuntimeDefault/);
    assert.match(r.out, /net\.ipv4\.ip_local_port_range/);
  });

  it('hardens the pod: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, no API token', () => {
    const pod = one(defaults, 'Deployment').spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    const sc = pod.containers[0].securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.ok(sc.runAsUser > 0);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.equal(sc.seccompProfile.type, 'RuntimeDefault');
    // Writable: the data directory (inside the volume, so Gatehouse creates it 0700) and /tmp only.
    const writable = pod.containers[0].volumeMounts.filter((m: { readOnly?: boolean }) => !m.readOnly).map((m: { mountPath: string }) => m.mountPath).sort();
    assert.deepEqual(writable, ['/data', '/tmp']);
    assert.match(parse(gatehouseYaml(defaults)).dataDir, /^\/data\/.+/);
    assert.equal(pod.containers[0].env.find((e: { name: string }) => e.name === 'NODE_ENV').value, 'production');
  });

  it('inlines no secret: no Secret object, every secret env var from a secretKeyRef, passwords in URLs only as ${ENV}', () => {
    for (const objects of [defaults, multi]) {
      assert.equal(objects.filter((o) => o.kind === 'Secret').length, 0);
      const env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] = container(objects).env;
      const literal = env.filter((e) => e.value !== undefined).map((e) => e.name).sort();
      assert.deepEqual(literal.filter((n) => !['NODE_ENV', 'NODE_EXTRA_CA_CERTS'].includes(n)), []);
      for (const name of ['GATEHOUSE_PKI_KEY', 'GATEHOUSE_KEY_ENCRYPTION_SECRET', 'GATEHOUSE_DB_PASSWORD']) {
        assert.ok(env.find((e) => e.name === name)?.valueFrom?.secretKeyRef, `${name} from a Secret`);
      }
      const text = gatehouseYaml(objects);
      for (const [, password] of text.matchAll(/:\/\/[^/@\s:]*:([^@\s]+)@/g)) assert.match(password!, /^\$\{GATEHOUSE_[A-Z_]+_PASSWORD\}$/);
      const config = parse(text);
      assert.equal(config.pki?.key, undefined);
      assert.equal(config.identity?.signing?.keyEncryptionSecret, undefined);
    }
    const env = container(multi).env as { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
    assert.equal(env.find((e) => e.name === 'GATEHOUSE_REDIS_PASSWORD')?.valueFrom?.secretKeyRef?.name, 'gatehouse-redis');
    assert.equal(env.find((e) => e.name === 'GATEHOUSE_NATS_PASSWORD')?.valueFrom?.secretKeyRef?.name, 'gatehouse-nats');
    // The audit signing key and the certificate are mounted from Secrets, read-only.
    const volumes = one(multi, 'Deployment').spec.template.spec.volumes as { name: string; secret?: { secretName: string } }[];
    assert.equal(volumes.find((v) => v.name === 'audit-signing-key')?.secret?.secretName, 'gatehouse-shared');
    assert.equal(volumes.find((v) => v.name === 'tls')?.secret?.secretName, 'gatehouse-example-com-tls');
  });

  it('writes what several instances need: PostgreSQL verify-full, rediss://, NATS tls://, the shared DPoP replay cache', () => {
    const config = parse(gatehouseYaml(multi));
    assert.match(config.store.url, /^postgres:\/\/gatehouse:\$\{GATEHOUSE_DB_PASSWORD\}@pg\.databases\.svc\.cluster\.local:5432\/gatehouse\?sslmode=verify-full&sslrootcert=\/etc\/gatehouse\/db-ca\/ca\.crt$/);
    assert.match(config.ratelimit.url, /^rediss:\/\//);
    assert.match(config.bus.url, /^tls:\/\//);
    assert.equal(config.publicUrl, PUBLIC_URL);
    // Several instances: a DPoP proof seen by one is refused by all (in memory: replayable once per instance).
    assert.equal(config.authn.dpop.replayCache, 'store');
  });

  it('lets only Gatehouse reach the upstreams, and the ops port only from the monitoring namespace', () => {
    const selector = one(multi, 'Deployment').spec.selector.matchLabels;
    const own = one(multi, 'NetworkPolicy', 'gh-gatehouse');
    assert.deepEqual(own.spec.podSelector.matchLabels, selector);
    const opsRule = own.spec.ingress.find((r: { ports: { port: string }[] }) => r.ports.some((p) => p.port === 'ops'));
    assert.deepEqual(opsRule.from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    assert.equal(opsRule.ports.length, 1, 'the ops rule opens the ops port only');
    // Upstream in another namespace: only pods with Gatehouse's labels in Gatehouse's namespace (one peer, both selectors).
    const upstream = one(multi, 'NetworkPolicy', 'gh-gatehouse-upstream-mail');
    assert.equal(upstream.metadata.namespace, 'apps');
    assert.deepEqual(upstream.spec.podSelector, { matchLabels: { app: 'mail' } });
    assert.deepEqual(upstream.spec.policyTypes, ['Ingress']);
    assert.deepEqual(upstream.spec.ingress, [{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'edge' } }, podSelector: { matchLabels: selector } }],
      ports: [{ port: 8443, protocol: 'TCP' }],
    }]);
    // Pods labelled as behind the gateway in the release namespace.
    const labelled = one(defaults, 'NetworkPolicy', 'gh-gatehouse-behind-gateway');
    assert.deepEqual(labelled.spec.podSelector.matchLabels, { 'gatehouse.dev/behind-gateway': 'true' });
    assert.deepEqual(labelled.spec.ingress, [{ from: [{ podSelector: { matchLabels: selector } }] }]);
  });

  it('restricts egress when asked to: DNS, PostgreSQL, Redis, NATS, OTLP, the upstreams and listed rules only', () => {
    assert.equal(defaults.filter((o) => o.kind === 'NetworkPolicy' && o.spec.policyTypes.includes('Egress')).length, 0, 'off by default');
    const selector = one(multi, 'Deployment').spec.selector.matchLabels;
    const egress = one(multi, 'NetworkPolicy', 'gh-gatehouse-egress');
    assert.deepEqual(egress.spec.podSelector.matchLabels, selector);
    assert.deepEqual(egress.spec.policyTypes, ['Egress']);
    type Rule = { to?: unknown[]; ports?: { port: number | string; protocol: string }[] };
    const rules: Rule[] = egress.spec.egress;
    for (const rule of rules) assert.ok(rule.ports?.length || rule.to?.length, `no rule opens every port to everyone: ${JSON.stringify(rule)}`);
    const byPort = (port: number, protocol = 'TCP') => rules.filter((r) => (r.ports ?? []).some((p) => p.port === port && p.protocol === protocol));
    const dns = byPort(53, 'UDP');
    assert.equal(dns.length, 1);
    assert.deepEqual(dns[0]!.ports, [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
    assert.deepEqual(dns[0]!.to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }]);
    // The ports come from the values that write the URLs (store 5432, redis 6380, nats 4222), with the peers given.
    assert.deepEqual(byPort(5432)[0]!.to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'databases' } }, podSelector: { matchLabels: { app: 'postgresql' } } }]);
    assert.equal(byPort(6380).length, 1);
    assert.equal(byPort(4222).length, 1);
    assert.equal(byPort(4317).length, 1, 'the OTLP collector');
    // Each networkPolicy.upstreams entry is reachable: the same pods the ingress policy protects.
    assert.deepEqual(byPort(8443)[0]!.to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } }, podSelector: { matchLabels: { app: 'mail' } } }]);
    assert.equal(byPort(443).length, 1, 'networkPolicy.egress.extra (the OIDC provider)');
    // Without Redis and NATS (one instance), no rule for their ports.
    const single = one(render('--set', `publicUrl=${PUBLIC_URL}`, '--set', 'replicaCount=1', '--set', 'redis.host=', '--set', 'nats.host=', '--set', 'networkPolicy.egress.enabled=true'), 'NetworkPolicy', 'gh-gatehouse-egress');
    assert.deepEqual(single.spec.egress.flatMap((r: Rule) => r.ports!.map((p) => p.port)).sort(), [53, 53, 5432]);
  });

  it('writes a gatehouse.yaml that the real gatehouse config validate accepts in production', () => {
    for (const objects of [defaults, multi]) {
      const r = gatehouseValidate(gatehouseYaml(objects));
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /mode production/);
    }
  });

  it('catches chart values that make Gatehouse refuse its configuration (plain redis:// in production)', () => {
    const objects = render('-f', multiInstance, '--set', 'config.ratelimit.url=redis://redis.databases.svc.cluster.local:6379');
    const r = gatehouseValidate(gatehouseYaml(objects));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /ratelimit\.url/);
    // And without the secrets the pod gets from Secrets, production refuses to start.
    const missing = gatehouseValidate(gatehouseYaml(defaults), { GATEHOUSE_PKI_KEY: '', GATEHOUSE_KEY_ENCRYPTION_SECRET: '' });
    assert.equal(missing.status, 1, missing.out);
  });

  describe('persistence (a data volume that outlives the pod)', () => {
    let persisted: K8sObject[];
    let single: K8sObject[];
    const SINGLE = ['--set', `publicUrl=${PUBLIC_URL}`, '--set', 'replicaCount=1', '--set', 'redis.host=', '--set', 'nats.host=',
      '--set', 'config.store.url=sqlite:/data/gatehouse/gatehouse.db', '--set', 'persistence.enabled=true', '--set', 'persistence.existingClaim=gatehouse-data'];

    before(() => {
      persisted = render('-f', multiInstance, '--set', 'persistence.enabled=true', '--set', 'persistence.storageClassName=fast-ssd', '--set', 'persistence.size=5Gi',
        '--set', 'persistence.annotations.backup\\.example\\.com/policy=daily');
      single = render(...SINGLE);
    });

    it('renders objects valid against the Kubernetes OpenAPI schemas, a StatefulSet in place of the Deployment', async () => {
      const kinds = [...await validateAgainstOpenApi(persisted), ...await validateAgainstOpenApi(single)];
      assert.ok(kinds.includes('StatefulSet'));
      assert.equal(persisted.filter((o) => o.kind === 'Deployment').length, 0, 'no Deployment beside the StatefulSet');
      assert.equal(single.filter((o) => o.kind === 'Deployment').length, 0);
    });

    it('gives every pod its own claim (volumeClaimTemplates), mounted at /data, never a volume the pods share', () => {
      const set = one(persisted, 'StatefulSet', 'gh-gatehouse');
      assert.deepEqual(set.spec.volumeClaimTemplates, [{
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data', labels: set.spec.selector.matchLabels, annotations: { 'backup.example.com/policy': 'daily' } },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'fast-ssd', resources: { requests: { storage: '5Gi' } } },
      }]);
      const pod = set.spec.template.spec;
      assert.equal(pod.volumes.find((v: { name: string }) => v.name === 'data'), undefined, 'the claim template, not a pod volume, provides "data"');
      assert.deepEqual(pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'data'), { name: 'data', mountPath: '/data' });
      assert.equal(parse(gatehouseYaml(persisted)).dataDir, '/data/gatehouse');
      // Peers: started together; rolled one at a time; claims kept when scaled down (a spool is replayed when its ordinal returns).
      assert.equal(set.spec.podManagementPolicy, 'Parallel');
      assert.deepEqual(set.spec.updateStrategy, { type: 'RollingUpdate' });
      assert.deepEqual(set.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
    });

    it('governs the StatefulSet with a headless Service that routes nothing and is not scraped', () => {
      const set = one(persisted, 'StatefulSet');
      const headless = one(persisted, 'Service', set.spec.serviceName);
      assert.equal(headless.spec.clusterIP, 'None');
      assert.equal(headless.spec.ports, undefined, 'no ports: DNS names only');
      assert.deepEqual(headless.spec.selector, set.spec.selector.matchLabels);
      assert.equal(headless.metadata.labels?.['app.kubernetes.io/component'], undefined, 'the ServiceMonitor selects the ops Service only');
    });

    it('sets fsGroupChangePolicy OnRootMismatch, so the kubelet does not make the 0700 spool group-writable at every mount', () => {
      for (const objects of [persisted, single]) {
        const context = one(objects, 'StatefulSet').spec.template.spec.securityContext;
        assert.equal(context.fsGroupChangePolicy, 'OnRootMismatch');
        assert.equal(context.fsGroup, 65532);
      }
      assert.equal(one(multi, 'Deployment').spec.template.spec.securityContext.fsGroupChangePolicy, undefined, 'persistence off: as before');
    });

    it('keeps the pod otherwise the Deployment\'s: the same labels, containers, probes, security, Secrets', () => {
      const withoutData = (pod: any) => ({ ...pod, spec: { ...pod.spec, securityContext: { ...pod.spec.securityContext, fsGroupChangePolicy: undefined }, volumes: pod.spec.volumes.filter((v: { name: string }) => v.name !== 'data') } });
      // The checksum differs with nothing but the values text; the ConfigMap itself is the same.
      const stable = (pod: any) => withoutData({ ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, 'checksum/config': '' } } });
      assert.deepEqual(stable(one(persisted, 'StatefulSet').spec.template), stable(one(multi, 'Deployment').spec.template));
      assert.deepEqual(one(persisted, 'ConfigMap', 'gh-gatehouse').data, one(multi, 'ConfigMap', 'gh-gatehouse').data);
    });

    it('points the autoscaler at the StatefulSet, and keeps the PDB, Services and NetworkPolicies on the same pods', () => {
      const set = one(persisted, 'StatefulSet');
      assert.deepEqual(one(persisted, 'HorizontalPodAutoscaler').spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'gh-gatehouse' });
      assert.equal(set.spec.replicas, undefined, 'the HPA owns the replica count');
      const selector = set.spec.selector.matchLabels;
      assert.deepEqual(set.spec.template.metadata.labels, selector);
      assert.deepEqual(one(persisted, 'PodDisruptionBudget').spec, { maxUnavailable: 1, selector: { matchLabels: selector } });
      for (const name of ['gh-gatehouse', 'gh-gatehouse-ops']) assert.deepEqual(one(persisted, 'Service', name).spec.selector, selector);
      for (const name of ['gh-gatehouse', 'gh-gatehouse-egress']) assert.deepEqual(one(persisted, 'NetworkPolicy', name).spec.podSelector.matchLabels, selector);
      const upstream = one(persisted, 'NetworkPolicy', 'gh-gatehouse-upstream-mail');
      assert.deepEqual(upstream.spec.ingress[0].from[0].podSelector.matchLabels, selector);
      // Without an autoscaler the StatefulSet has the replica count.
      assert.equal(one(render('-f', multiInstance, '--set', 'persistence.enabled=true', '--set', 'autoscaling.enabled=false'), 'StatefulSet').spec.replicas, 3);
    });

    it('runs one instance on an existing claim: one pod, that claim at /data, and Gatehouse accepts the embedded store in production', () => {
      const set = one(single, 'StatefulSet');
      assert.equal(set.spec.replicas, 1);
      assert.equal(set.spec.volumeClaimTemplates, undefined);
      assert.deepEqual(set.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'data'), { name: 'data', persistentVolumeClaim: { claimName: 'gatehouse-data' } });
      assert.equal(single.filter((o) => o.kind === 'HorizontalPodAutoscaler').length, 0);
      const r = gatehouseValidate(gatehouseYaml(single));
      assert.equal(r.status, 0, r.out);
      assert.match(gatehouseYaml(single), /url: sqlite:\/data\/gatehouse\/gatehouse\.db/);
      // Without existingClaim, one instance gets a claim of its own.
      const own = one(render(...SINGLE, '--set', 'persistence.existingClaim='), 'StatefulSet');
      assert.equal(own.spec.volumeClaimTemplates.length, 1);
    });

    it('passes helm lint --strict with persistence, for several instances and for one', () => {
      for (const args of [['-f', multiInstance, '--set', 'persistence.enabled=true'], SINGLE]) {
        const r = helm(['lint', '--strict', chart, ...args]);
        assert.equal(r.status, 0, r.out);
      }
    });

    // The chart's `fail` rules: helm lint only logs a `fail`, so these are refused at render
    // (helm template, install, upgrade, and the Pulumi provider's render), as the Redis/NATS rule.
    for (const [what, args, error] of [
      ['an existing claim for two replicas (two pods would share one spool)', ['--set', 'persistence.enabled=true', '--set', 'persistence.existingClaim=data', '--set', 'replicaCount=2'], /existingClaim is one volume for one instance/],
      ['an existing claim with an autoscaler (replicaCount 1)', ['--set', 'persistence.enabled=true', '--set', 'persistence.existingClaim=data', '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=true'], /existingClaim is one volume for one instance/],
      ['an existing claim while persistence is off (it would be silently unused)', ['--set', 'persistence.existingClaim=data', '--set', 'replicaCount=1'], /persistence\.enabled is false/],
      ['fsGroupChangePolicy Always with persistence (the spool made group-writable at every mount)', ['--set', 'persistence.enabled=true', '--set', 'podSecurityContext.fsGroupChangePolicy=Always'], /fsGroupChangePolicy Always/],
      ['claim annotations with an existing claim (the annotation of a backup tool would silently not reach the claim)', ['--set', 'persistence.enabled=true', '--set', 'persistence.existingClaim=data', '--set', 'replicaCount=1', '--set', 'persistence.annotations.backup=daily'], /existingClaim.*annotations|annotations.*existingClaim/],
      ['a storage class with an existing claim (silently unused)', ['--set', 'persistence.enabled=true', '--set', 'persistence.existingClaim=data', '--set', 'replicaCount=1', '--set', 'persistence.storageClassName=fast'], /existingClaim.*storageClassName|storageClassName.*existingClaim/],
      ['persistence without podSecurityContext.fsGroup (a fresh volume belongs to root: the pod could not create its data directory)', ['--set', 'persistence.enabled=true', '--set', 'podSecurityContext.fsGroup=null'], /persistence\.enabled without podSecurityContext\.fsGroup/],
      ['a StatefulSet name over 52 characters (its pods would carry a controller-revision-hash label over 63, which the API refuses)', ['--set', 'persistence.enabled=true', '--set', `fullnameOverride=${'g'.repeat(53)}`], /52 characters/],
    ] as const) {
      it(`refuses to render ${what}`, () => {
        const template = helm(['template', 'gh', chart, '--set', `publicUrl=${PUBLIC_URL}`, ...args]);
        assert.notEqual(template.status, 0, template.out);
        assert.match(template.out, error);
      });
    }

    for (const [what, args, error] of [
      ['a ReadWriteMany volume (one spool, one SQLite file per pod)', ['--set', 'persistence.enabled=true', '--set', 'persistence.accessModes={ReadWriteMany}'], /accessModes/],
      ['ReadWriteOncePod with another mode (the API refuses ReadWriteOncePod beside any other)', ['--set', 'persistence.enabled=true', '--set', 'persistence.accessModes={ReadWriteOnce,ReadWriteOncePod}'], /accessModes/],
      ['a size that is not a quantity', ['--set', 'persistence.enabled=true', '--set', 'persistence.size=lots'], /size/],
      ['a zero size (the API refuses a claim that requests no storage, so no pod would start)', ['--set', 'persistence.enabled=true', '--set-string', 'persistence.size=0Gi'], /size/],
      ['a zero size written as a decimal', ['--set', 'persistence.enabled=true', '--set-string', 'persistence.size=0.0'], /size/],
      ['a claim name that is not a Kubernetes name', ['--set', 'persistence.enabled=true', '--set', 'persistence.existingClaim=My_Claim', '--set', 'replicaCount=1'], /existingClaim/],
      ['an unknown persistence key (a typo is not silently ignored)', ['--set', 'persistence.storageClass=fast'], /storageClass/],
    ] as const) {
      it(`fails helm lint and helm template on ${what}`, () => {
        const lint = helm(['lint', chart, '--set', `publicUrl=${PUBLIC_URL}`, ...args]);
        assert.notEqual(lint.status, 0, lint.out);
        assert.match(lint.out, error);
        const template = helm(['template', 'gh', chart, '--set', `publicUrl=${PUBLIC_URL}`, ...args]);
        assert.notEqual(template.status, 0, template.out);
        assert.match(template.out, error);
      });
    }
  });
});

