import { Chart, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import {
  BackingService, IPythonApplication, MigrationJob, PythonApplicationContext, PythonPodTemplate, PythonService, PythonServiceProps, PythonWorker, ServiceIdentity, WorkerProcess,
} from '../src';
import { appContainer, envOf, only, servicePolicy, synth } from './support/manifests';
import { stderrOf } from './support/stderr';
import { kplus } from '../src/core/plus';
import { componentContext, StandalonePythonOptions } from '../src/core/python-component';
import { WorkloadBase } from '../src/core/python-workload';

// The workload base: every Python workload (the web Deployment, workers, scheduled jobs, the
// migration Job) gets its NetworkPolicy, its disruption budget and spread, its admission coverage
// and its place in its application's connections from one call, in one order. A new workload kind
// is one file: the StatefulSet below is written as a user of the base would write it, and gets all of that.

interface PythonStatefulSetProps extends StandalonePythonOptions {
  readonly service?: IPythonApplication;
  readonly replicas: number;
  readonly command: string[];
  /** A volume of the kind's own, as a real kind would add for its data. */
  readonly scratchVolume?: string;
}

/** A workload kind the library does not have: a StatefulSet of Python pods. */
class PythonStatefulSet extends Construct {
  public readonly statefulSet: kplus.StatefulSet;
  public readonly container: kplus.Container;
  public readonly base: WorkloadBase;

  constructor(scope: Construct, id: string, props: PythonStatefulSetProps) {
    super(scope, id);
    const ctx = componentContext(this, id, 'PythonStatefulSet', props);
    const selector = ctx.identity.selectorLabels(ctx.component);
    const service = new kplus.Service(this, 'Headless', { metadata: ctx.identity.metadataOf(ctx.name, ctx.component), clusterIP: 'None', selector: kplus.Pods.select(this, 'Pods', { labels: selector }), ports: [{ port: 8080 }] });
    this.statefulSet = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: ctx.identity.metadataOf(ctx.name, ctx.component),
      service,
      replicas: props.replicas,
      select: false,
      podMetadata: { labels: ctx.identity.labelsOf(ctx.component) },
      ...ctx.template.podProps(),
    });
    this.statefulSet.select(kplus.LabelSelector.of({ labels: selector }));
    this.container = ctx.template.addContainer(this.statefulSet, { name: 'app', command: props.command });
    if (props.scratchVolume) this.container.mount('/var/ledger', kplus.Volume.fromEmptyDir(this, 'Scratch', props.scratchVolume));
    this.base = new WorkloadBase(this, ctx);
    this.base.build({ workload: this.statefulSet, containers: [this.container], maxReplicas: props.replicas });
  }
}

const secured = (allowedImages = ['ghcr.io/acme/']): PythonServiceProps => ({ image: 'ghcr.io/acme/shop:1.0', security: { allowedImages } });

describe('a new workload kind built on the base', () => {
  test('inherits its service\'s pod template, restricted egress, disruption budget and spread, with no code of its own for them', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const shop = new PythonService(chart, 'shop', secured());
    new PythonStatefulSet(shop, 'ledger', { service: shop, replicas: 3, command: ['python', '-m', 'ledger'] });
    const manifests = synth(chart);
    const statefulSet = only(manifests, 'StatefulSet', 'shop-ledger');
    expect(appContainer(statefulSet).image).toBe('ghcr.io/acme/shop:1.0');
    expect(statefulSet.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(statefulSet.spec.template.spec.topologySpreadConstraints).toHaveLength(2);
    expect(only(manifests, 'PodDisruptionBudget', 'shop-ledger-pdb').spec.selector.matchLabels).toEqual(statefulSet.spec.selector.matchLabels);
    const policy = only(manifests, 'NetworkPolicy', 'shop-ledger-netpol');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
  });

  test('is held to the service\'s admission policy and the namespace\'s at synth: a foreign image fails the build, naming the policy', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const shop = new PythonService(chart, 'shop', secured());
    const ledger = new PythonStatefulSet(shop, 'ledger', { service: shop, replicas: 1, command: ['python', '-m', 'ledger'] });
    ledger.statefulSet.addContainer({ name: 'exporter', image: 'docker.io/evil/miner:1', securityContext: { user: 10001, group: 10001 } });
    expect(() => synth(chart)).toThrow(/shop\/shop\/SecurityPolicy: the workload does not pass its own security policy:\n {2}StatefulSet "shop-ledger" breaks its security policy \(allowed-images\): container "exporter" image "docker.io\/evil\/miner:1" is not allowed/);
  });

  test('is reached by the service\'s connections: use() on the service gives its container the variables', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const shop = new PythonService(chart, 'shop', secured());
    new PythonStatefulSet(shop, 'ledger', { service: shop, replicas: 1, command: ['python', '-m', 'ledger'] });
    shop.use(BackingService.endpoint({ cidr: '10.20.0.0/16', port: 5432, env: { DATABASE_URL: { secretName: 'shop-db', key: 'url' } } }));
    const manifests = synth(chart);
    expect(envOf(appContainer(only(manifests, 'StatefulSet', 'shop-ledger'))).DATABASE_URL).toEqual({ secretKeyRef: { name: 'shop-db', key: 'url' } });
    expect(only(manifests, 'NetworkPolicy', 'shop-ledger-netpol').spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ port: 5432, protocol: 'TCP' }] });
  });
});

describe('the admission policy allows the volumes the library built, read from the pods', () => {
  test('a volume a workload kind builds is allowed, with no list of names kept anywhere else', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const shop = new PythonService(chart, 'shop', secured());
    new PythonStatefulSet(shop, 'ledger', { service: shop, replicas: 1, command: ['python', '-m', 'ledger'], scratchVolume: 'ledger-scratch' });
    const manifests = synth(chart);
    const expressions = servicePolicy(manifests).spec.validations.map((x: any) => x.expression).join('\n');
    expect(expressions).toContain("'ledger-scratch'");
    expect(expressions).toContain("'tmp'");
  });

  test('one added afterwards through the handles is not: the policy names it, and allowedVolumes fixes it', () => {
    const build = (allowedVolumes?: string[]) => {
      const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
      const shop = new PythonService(chart, 'shop', { image: 'ghcr.io/acme/shop:1.0', security: { allowedImages: ['ghcr.io/acme/'], allowedVolumes } });
      shop.container.mount('/cache', kplus.Volume.fromEmptyDir(shop, 'Cache', 'cache'));
      return chart;
    };
    expect(() => synth(build())).toThrow(/volume "cache" is not in the allowed volumes \(.*\); a volume added through the cdk8s-plus handles must be listed: security.allowedVolumes on the service/);
    expect(() => synth(build(['cache']))).not.toThrow();
  });
});

describe('MigrationJob on its own', () => {
  test('a Job made for a secured service outside the service is governed as the service\'s own would be', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const shop = new PythonService(chart, 'shop', secured());
    new MigrationJob(chart, 'Migrate', { service: shop, command: ['python', 'manage.py', 'migrate'] });
    const manifests = synth(chart);
    const policy = only(manifests, 'NetworkPolicy', 'shop-migrate-netpol');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.egress.length).toBeGreaterThan(0);
  });
});

describe('a secured workload that can reach nothing but DNS', () => {
  const warningsOf = (build: (chart: Chart) => void): string => {
    const app = Testing.app();
    build(new Chart(app, 'shop', { namespace: 'shop' }));
    return stderrOf(() => app.synth()).join('');
  };

  test('is named when the app is synthesized, component by component, since its connections time out', () => {
    const warnings = warningsOf((chart) => {
      const web = new PythonService(chart, 'lonely', secured());
      web.addWorker('ws', { process: WorkerProcess.command(['python', '-m', 'ws']) });
    });
    expect(warnings).toContain("PythonService 'lonely': secured, and its NetworkPolicy lets it reach nothing but DNS (no security.egressTo, egressTo, connectTo() or use())");
    expect(warnings).toContain("PythonService 'lonely' PythonWorker 'ws': secured, and its NetworkPolicy lets it reach nothing but DNS");
  });

  test('is quiet once the workload has somewhere to go, including through use() after it was built', () => {
    const warnings = warningsOf((chart) => {
      const web = new PythonService(chart, 'connected', secured());
      web.use(BackingService.endpoint({ cidr: '192.0.2.10/32', port: 5432, env: { DATABASE_URL: { secretName: 'db', key: 'url' } } }));
    });
    expect(warnings).not.toContain("PythonService 'connected': secured, and its NetworkPolicy lets it reach nothing but DNS");
  });
});

describe('an application of the user\'s own making', () => {
  /** An IPythonApplication that is not a PythonService: it runs a service's pod under a name of its own. */
  class Platform extends Construct implements IPythonApplication {
    public readonly identity: ServiceIdentity;
    public readonly podTemplate: PythonPodTemplate;
    public readonly applicationContext: PythonApplicationContext;
    constructor(scope: Construct, id: string, from: PythonService, context?: PythonApplicationContext) {
      super(scope, id);
      this.identity = new ServiceIdentity({ name: 'platform', namespace: 'shop', version: '1.0' });
      this.podTemplate = from.podTemplate;
      this.applicationContext = context!;
    }
  }

  test('shares its context with its components: security and memory per process come from it', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const shop = new PythonService(chart, 'shop', secured());
    const platform = new Platform(chart, 'platform', shop, { ...shop.applicationContext, errorLabel: "Platform 'platform'" });
    new PythonWorker(chart, 'jobs', { service: platform, process: WorkerProcess.command(['python', '-m', 'jobs']) });
    const manifests = synth(chart);
    const policy = only(manifests, 'NetworkPolicy', 'platform-jobs-netpol');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(() => {
      const c = new Chart(Testing.app(), 'x', { namespace: 'shop' });
      new PythonWorker(c, 'jobs', { service: new Platform(c, 'platform', new PythonService(c, 'shop', secured()), { ...shop.applicationContext, errorLabel: "Platform 'platform'" }), process: WorkerProcess.command(['python']), image: 'ghcr.io/acme/other:1' });
    }).toThrow("Platform 'platform' PythonWorker 'jobs': image \"ghcr.io/acme/other:1\" comes from the service");
  });

  test('without a context it fails at once, naming the component and what is missing, instead of running unsecured', () => {
    const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
    const platform = new Platform(chart, 'platform', new PythonService(chart, 'shop', secured()));
    expect(() => new PythonWorker(chart, 'jobs', { service: platform, process: WorkerProcess.command(['python', '-m', 'jobs']) }))
      .toThrow("PythonWorker 'jobs': service shop/platform has no applicationContext (errorLabel, memoryPerProcess, security, tracing, monitoring)");
    expect(() => new MigrationJob(chart, 'migrate', { service: platform, command: ['python', 'manage.py', 'migrate'] }))
      .toThrow("MigrationJob 'migrate': service shop/platform has no applicationContext");
  });
});
