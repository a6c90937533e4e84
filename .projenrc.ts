import { cdk8s, javascript, JsonFile } from 'projen';

const project = new cdk8s.ConstructLibraryCdk8s({
  name: 'cdk8s-python-service',
  description:
    'cdk8s constructs that turn a short, typed description of a containerized Python web app into secure, production-grade Kubernetes YAML',
  keywords: ['cdk8s', 'kubernetes', 'python', 'gunicorn', 'uvicorn', 'prometheus', 'velero', 'network-policy'],
  author: 'cdk8s-python-service maintainers',
  authorAddress: 'maintainers@users.noreply.example.com',
  repositoryUrl: 'https://github.com/cdk8s-python-service/cdk8s-python-service.git',
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  projenrcTs: true,
  packageManager: javascript.NodePackageManager.NPM,
  // jsii 6 needs node >= 20.16; this also keeps @types/node on 20.
  minNodeVersion: '20.16.0',

  // projen's defaults are cdk8s 1.x / constructs 3.x: always pin the 2.x line explicitly.
  cdk8sVersion: '2.70.106',
  constructsVersion: '10.8.1',
  jsiiVersion: '~6.0.0',
  // ConstructLibraryCdk8s has no cdk8s-plus option; a peer dependency makes projen add a pinned devDep too.
  peerDeps: ['cdk8s-plus-28@^2.5.6'],
  // Runtime helpers that are not jsii libraries must be bundled into the package.
  bundledDeps: ['cron-parser@^5.10.5'],
  devDeps: [
    'cdk8s-cli@^2.207.60',
    'ts-node@^10.9.2',
    'ajv@^8.20.0',
    'yaml@^2.9.1',
    // Evaluates the emitted CEL admission rules in tests (the only npm CEL engine with optional types).
    '@marcbachmann/cel-js@^8.0.0',
    'fast-check@^4.10.2',
    'dockerfile-ast@^0.7.1',
  ],

  // Drifted snapshots must fail the build; `npx projen test:update` rewrites them on purpose.
  typecheckTests: true,
  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      coveragePathIgnorePatterns: ['/node_modules/', '/src/imports/'],
      // @marcbachmann/cel-js is ESM-only: let ts-jest (allowJs) turn it into CommonJS.
      transform: { '^.+\\.[tj]sx?$': new javascript.Transform('ts-jest', { tsconfig: 'test/tsconfig.jest.json' }) },
      transformIgnorePatterns: ['/node_modules/(?!@marcbachmann/cel-js/)'],
      testTimeout: 120_000,
      // Every custom resource any test builds is also converted by its generated toJson and compared.
      setupFilesAfterEnv: ['<rootDir>/test/support/check-custom-resources.ts'],
      // The real programs the tests are judged by (kube-apiserver, etcd, kube-controller-manager,
      // kubectl, Kyverno's CLI, promtool): built from the Go module proxy into a cache once.
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
  },
  eslintOptions: {
    dirs: ['src'],
    ignorePatterns: ['*.js', '*.d.ts', 'node_modules/', '*.generated.ts', 'coverage', 'src/imports/'],
  },

  // Python bindings (module cdk8s_python_service): package:python builds the wheel and sdist.
  publishToPypi: { distName: 'cdk8s-python-service', module: 'cdk8s_python_service' },

  github: false,
  release: false,
  depsUpgrade: false,
});

// projen packages only JavaScript under CI (its GitHub workflows build each language in a job of
// their own); this project's CI is one run, and the Python wheel is a deliverable like the tarball.
project.packageTask.reset();
project.packageTask.spawn(project.tasks.tryFind('package-all')!);
// twine checks every file in dist/python: leftovers of an earlier build (sources, LICENSE) fail it.
project.tasks.tryFind('package:python')?.prependExec('rm -rf dist/python');

// Test tables (prop → expected message) read best one case per line.
project.eslint?.addOverride({ files: ['test/**/*.ts'], rules: { '@stylistic/max-len': 'off' } });
// In Node 20's V8, an object literal that starts with a spread and adds anything after it gets a
// hidden class of its own every time: slow to build and heavier to keep (bench/RESULTS.md). The
// library builds such objects for every service; tests may spread as they like.
project.eslint?.addOverride({
  files: ['src/**/*.ts'],
  rules: {
    'no-restricted-syntax': ['error', {
      selector: 'ObjectExpression > SpreadElement:first-child:not(:last-child)',
      message: 'A spread first in an object literal with more after it gives each result its own hidden class in Node 20 (slow, and retained per object): use Object.assign({}, a, { key }) or put the spread after the keys.',
    }],
  },
});

// jsii 6 prints a large "Node 20 is end-of-life" banner on every run; it does not fail the build.
project.tasks.addEnvironment('JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION', '20');

new JsonFile(project, 'test/tsconfig.jest.json', {
  obj: { extends: './tsconfig.json', compilerOptions: { allowJs: true } },
});

// The bundled example app, synthesized by the real cdk8s CLI (it imports ../src, so one copy of cdk8s).
new JsonFile(project, 'examples/tsconfig.json', {
  obj: {
    compilerOptions: {
      target: 'ES2022',
      module: 'node16',
      moduleResolution: 'node16',
      rootDir: '..',
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    },
    include: ['*.ts'],
  },
});
project.addTask('synth:example', {
  description: 'Synthesize the bundled example app (examples/) to Kubernetes YAML with the cdk8s CLI',
  cwd: 'examples',
  exec: 'cdk8s synth --no-check-upgrade',
});
// Source maps beside the JavaScript, not inlined: every require() of an inlined map keeps the
// whole map and the TypeScript source in memory as a string (1.5 MB for the modules a service
// loads), whether or not anything ever reads them. Node still finds the files with --enable-source-maps.
project.tsconfig?.file.addOverride('compilerOptions.inlineSourceMap', false);
project.tsconfig?.file.addOverride('compilerOptions.inlineSources', false);
project.tsconfig?.file.addOverride('compilerOptions.sourceMap', true);
project.gitignore.exclude('/examples/dist/', '/examples/python/dist/', '__pycache__/');

// Generated L1 classes for the upstream CRDs (prometheus-operator, Velero, Kyverno). The CRDs
// themselves stay in the shared reference folder and are never copied here.
project.addTask('import:crds', {
  description: 'Regenerate src/imports/ from the upstream CRDs (SHARED_DIR, default ../shared)',
  exec: 'bash scripts/import-crds.sh',
});
project.gitattributes.addAttributes('/src/imports/**', 'linguist-generated');

// Benchmarks are never part of the test run (timings on shared machines are noise); they report
// ratios measured in one run into bench/RESULTS.md.
project.addTask('bench', {
  description: 'Synth time, peak memory and require() cost against hand-written cdk8s-plus-28 (writes bench/RESULTS.md)',
  steps: [{ spawn: 'compile' }, { exec: 'node bench/run.js' }],
});
project.npmignore?.exclude('/examples/', '/bench/', '/.ci/');

project.synth();
