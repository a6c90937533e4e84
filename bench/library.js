// The benchmark's full-stack service, written with this library.
const { Duration, Size } = require('cdk8s');
const kplus = require('cdk8s-plus-28');

/** @param lib the library module (compiled lib/ in the benchmark, src/ in the equivalence test) */
function libraryService(lib, chart, i) {
  new lib.PythonService(chart, `svc-${i}`, {
    image: `registry.example.com/shop/svc-${i}:1.0.${i}`,
    server: lib.PythonServer.gunicorn({ app: 'app.wsgi:application' }),
    resources: { cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(512) },
    env: { DJANGO_SETTINGS_MODULE: 'app.settings' },
    expose: lib.Exposure.ingress({ host: `svc-${i}.example.com`, tlsSecretName: `svc-${i}-tls` }),
    autoscaling: { minReplicas: 2, maxReplicas: 6 },
    monitoring: { alerts: true, interval: Duration.seconds(30) },
    backup: { schedule: '0 0 * * *' },
    security: { allowedImages: ['registry.example.com/shop/'] },
    migrations: { command: ['python', 'manage.py', 'migrate', '--noinput'] },
  });
}

module.exports = { libraryService };
