import { synthExampleWithCli } from './support/cluster-apps';
import { crossObjectProblems, expectStrictlyValid, Manifest } from './support/manifests';

/** Runs the real `cdk8s synth` on the bundled example app, as the README's quick start does. */
function synthExample(): { yaml: string; dockerfile: string; manifests: Manifest[] } {
  const { files, manifests } = synthExampleWithCli();
  expect(Object.keys(files)).toEqual(['.dockerignore', 'Dockerfile', 'shop.k8s.yaml']);
  return { yaml: files['shop.k8s.yaml'], dockerfile: files.Dockerfile, manifests };
}

describe('the bundled example app, synthesized by the cdk8s CLI', () => {
  const { yaml, dockerfile, manifests } = synthExample();

  test('emits the article\'s system: Deployment (3 to 5 replicas, port 8080), Service, Ingress, scaling, migrations, monitoring, backup, security', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      expect.stringMatching(/^ConfigMap\/python-app-gunicorn-[0-9a-f]{8}$/), 'CronJob/python-app-clear-sessions',
      'Deployment/python-app', 'Deployment/python-app-beat', 'Deployment/python-app-worker', 'HorizontalPodAutoscaler/python-app-hpa', 'Ingress/python-app',
      expect.stringMatching(/^Job\/python-app-migrate-[0-9a-f]{8}$/),
      'NetworkPolicy/python-app-beat-netpol', 'NetworkPolicy/python-app-clear-sessions-netpol', 'NetworkPolicy/python-app-migrate-netpol', 'NetworkPolicy/python-app-netpol',
      'NetworkPolicy/python-app-worker-netpol', 'PodDisruptionBudget/python-app-pdb', 'PodDisruptionBudget/python-app-worker-pdb',
      'PrometheusRule/python-app-alerts', 'ScaledObject/python-app-worker', 'Schedule/shop-python-app-backup', 'Service/python-app', 'ServiceAccount/python-app', 'ServiceAccount/python-app-migrate', 'ServiceMonitor/python-app',
      'ValidatingAdmissionPolicy/shop-namespace-policy', 'ValidatingAdmissionPolicy/shop-python-app-policy',
      'ValidatingAdmissionPolicyBinding/shop-namespace-policy', 'ValidatingAdmissionPolicyBinding/shop-python-app-policy',
    ]);
    const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'python-app')!;
    const hpa = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler')!;
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 5 });
    expect(deployment.spec.template.spec.containers[0].ports[0]).toMatchObject({ containerPort: 8080, name: 'http' });
    const serviceMonitor = manifests.find((m) => m.kind === 'ServiceMonitor')!;
    // The article scrapes port http; behind an Ingress that makes /metrics public, so gunicorn serves it on its own port.
    expect(serviceMonitor.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics', interval: '30s' });
  });

  test('every object is strictly valid and every pod restricted', () => {
    expectStrictlyValid(manifests);
    expect(crossObjectProblems(manifests)).toEqual([]);
  });

  test('writes a Dockerfile that agrees with the Deployment', () => {
    const container = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'python-app')!.spec.template.spec.containers[0];
    expect(dockerfile).toContain(`USER ${container.securityContext.runAsUser}:${container.securityContext.runAsGroup}`);
    expect(dockerfile).toContain(`EXPOSE ${container.ports.map((p: any) => p.containerPort).join(' ')}`);
    // The pod's command less the gunicorn configuration it mounts from a ConfigMap: a plain `docker run` starts.
    const config = container.command.indexOf('--config');
    expect(container.command.slice(config, config + 2)).toEqual(['--config', '/etc/gunicorn/gunicorn.conf.py']);
    expect(dockerfile).toContain(`CMD ${JSON.stringify([...container.command.slice(0, config), ...container.command.slice(config + 2)])}`);
    expect(dockerfile).toContain('RUN ["python","manage.py","collectstatic","--noinput"]');
  });

  test('matches the committed snapshot', () => {
    expect(yaml).toMatchSnapshot();
    expect(dockerfile).toMatchSnapshot();
  });
});
