import { Chart, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { celeryShop, djangoShop, fastApi } from './fixture-apps';
import { ImageSource } from './image-build';
import { RUNTIME_PACKAGES } from './pod-process';
import { PythonDockerfile, PythonServer, PythonService } from '../../src';

/**
 * The fixture apps as images a user would build: each build context holds the app, a
 * requirements.txt, and the Dockerfile and .dockerignore the library renders for the service that
 * runs it. The image tier builds and inspects them; the node tier runs them. All three share one
 * requirements file, so their dependency layer is built once.
 */

export const REGISTRY = 'registry.example.com';

export const FIXTURE_IMAGES = {
  django: `${REGISTRY}/shop/api:1.0`,
  fastApi: `${REGISTRY}/shop/fast:1.0`,
  workers: `${REGISTRY}/shop/worker:1.0`,
} as const;

export type FixtureImage = keyof typeof FIXTURE_IMAGES;

/** The host names the Django fixture accepts: the in-cluster names of the services that run it (as the README says to list them). */
export const DJANGO_ALLOWED_HOSTS = ['api.shop.svc', 'threads.fast.svc', 'api.store.svc', 'api.ops.svc', 'web.ops.svc'];

/** What a careless context holds at any depth; the rendered .dockerignore keeps all of it out of the image. */
export const IGNORED_FILES: { [file: string]: string } = {
  '.git/HEAD': 'ref: refs/heads/main\n',
  '.env': 'SECRET_KEY=from-the-developers-laptop\n',
  'shop/.env': 'DATABASE_PASSWORD=local\n',
  'deploy/sub/.env': 'TOKEN=local\n',
  'shop/local.env': 'DEBUG=1\n',
  'shop/.venv/pyvenv.cfg': 'home = /usr/bin\n',
  'venv/pyvenv.cfg': 'home = /usr/bin\n',
  'shop/__pycache__/stale.cpython-313.pyc': 'not bytecode',
  'shop/orders/old.pyc': 'not bytecode',
};

/** The services whose Dockerfiles the fixture images are built from. */
export function fixtureServices(): { django: PythonService; fastApi: PythonService } {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  return {
    django: new PythonService(chart, 'api', {
      image: FIXTURE_IMAGES.django,
      server: PythonServer.gunicorn({ app: 'shop.wsgi:application' }),
      resources: { cpu: kplus.Cpu.millis(1000), memory: Size.mebibytes(512) },
      env: { DJANGO_SETTINGS_MODULE: 'shop.settings' },
      monitoring: { port: 9100, labels: { release: 'kube-prometheus-stack' } },
    }),
    fastApi: new PythonService(chart, 'fast', { image: FIXTURE_IMAGES.fastApi, server: PythonServer.uvicorn({ app: 'api.main:app' }) }),
  };
}

/** The Dockerfiles, as the library renders them for those services (the workers' image has the Celery worker as its command). */
export function fixtureDockerfiles(): { [image in FixtureImage]: PythonDockerfile } {
  const services = fixtureServices();
  return {
    django: PythonDockerfile.forService(services.django, {
      buildCommands: [['python', 'manage.py', 'collectstatic', '--noinput']],
      buildEnv: { DJANGO_SETTINGS_MODULE: 'shop.settings' },
      // Not needed by the fixture (SQLite): a runtime library a PostgreSQL app loads, installed for real.
      runtimePackages: ['libpq5'],
    }),
    fastApi: PythonDockerfile.forService(services.fastApi),
    workers: new PythonDockerfile({ port: 8080, user: 10001, group: 10001, command: ['celery', '-A', 'shop', 'worker', '--loglevel', 'INFO'], writableDirs: ['/tmp'] }),
  };
}

/**
 * The bundled example app's image (examples/main.ts), built from the Dockerfile the example writes
 * beside its YAML: a Django project `app` (the Django fixture's views, models and migrations, its
 * host names the example's) with the Celery app `app` the example's worker and beat run.
 */
export function exampleImageSource(dockerfile: string, dockerignore: string, image: string): ImageSource {
  const django = djangoShop([]);
  return {
    tag: image,
    context: {
      ...Object.fromEntries(Object.entries(django).filter(([file]) => file !== 'shop/rq_tasks.py' && file !== 'shop/settings.py')),
      'shop/settings.py': django['shop/settings.py'].replace(/^INSTALLED_APPS = .*$/m, 'INSTALLED_APPS = ["django.contrib.sessions", "django.contrib.staticfiles", "shop.orders"]'),
      'shop/celery.py': celeryShop()['shop/celery.py'],
      'app/__init__.py': '',
      // \`celery -A app\` finds the Celery app in app.celery.
      'app/celery.py': 'from shop.celery import app  # noqa\n',
      // Its public host (the probes' Host) and its in-cluster name, as the README says to list them.
      'app/settings.py': 'from shop.settings import *  # noqa\nALLOWED_HOSTS = ["shop.example.com", "python-app.shop.svc"]\n',
      'app/wsgi.py': 'from shop.wsgi import application  # noqa\n',
      'requirements.txt': RUNTIME_PACKAGES.join('\n') + '\n',
      'Dockerfile': dockerfile,
      '.dockerignore': dockerignore,
    },
  };
}

/** A real Redis (Debian's redis-server) in the image base the library's Dockerfile names, for a broker pod. */
export function redisImageSource(): ImageSource {
  const base = /^FROM (\S+)/m.exec(fixtureDockerfiles().fastApi.render())![1];
  return {
    tag: `${REGISTRY}/stand-ins/redis:1.0`,
    context: {
      Dockerfile: [
        `FROM ${base}`,
        'RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*',
        'USER redis',
        'EXPOSE 6379',
        'CMD ["redis-server", "--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "no"]',
      ].join('\n') + '\n',
    },
  };
}

/** The build context of one fixture image. */
export function fixtureImageSource(image: FixtureImage, extraFiles: { [file: string]: string } = {}): ImageSource {
  const dockerfile = fixtureDockerfiles()[image];
  const app = image === 'django' ? { ...djangoShop(DJANGO_ALLOWED_HOSTS), ...IGNORED_FILES } : image === 'fastApi' ? fastApi() : celeryShop();
  return {
    tag: FIXTURE_IMAGES[image],
    context: {
      ...app,
      ...extraFiles,
      'requirements.txt': RUNTIME_PACKAGES.join('\n') + '\n',
      'Dockerfile': dockerfile.render(),
      '.dockerignore': dockerfile.renderIgnore(),
    },
  };
}
