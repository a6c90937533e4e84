import { ApiObject, Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { singletonChild } from './singleton';

// Order of objects in the synthesized file. File order only helps `kubectl apply -f` (Argo CD
// orders by phase, wave and kind; see addSyncWave), but there it decides whether a first apply
// works at all: a namespaced object before its Namespace, or a pod before the policy that
// governs it, fails or slips through. cdk8s dependencies order the file, whatever the order of
// construction. Internal.

/** Emits `first` before every other object under `scope` (but those in `unless`). */
export function emitBefore(first: ApiObject[], scope: IConstruct, unless: ApiObject[] = []): void {
  if (first.length === 0) return;
  const firstSet = new Set<IConstruct>([...first, ...unless]);
  for (const c of scope.node.findAll()) {
    if (c instanceof ApiObject && !firstSet.has(c)) c.node.addDependency(...first);
  }
}

/** The Namespace object a chart emits, kept in the chart. */
class ChartNamespace extends Construct {
  public namespace?: ApiObject;
}

const CHART_NAMESPACE = 'ChartNamespace';

/**
 * Records the Namespace object a chart emits and puts it before everything already in the
 * chart; constructs added later call `emitChartNamespaceBefore` for their own objects.
 */
export function registerChartNamespace(chart: Chart, namespace: ApiObject): void {
  singletonChild(chart, CHART_NAMESPACE, (scope, id) => new ChartNamespace(scope, id)).namespace = namespace;
  emitBefore([namespace], chart);
}

/** Puts the chart's Namespace, if one was registered, before every object under `scope`. */
export function emitChartNamespaceBefore(scope: IConstruct): void {
  const namespace = (Chart.of(scope).node.tryFindChild(CHART_NAMESPACE) as ChartNamespace | undefined)?.namespace;
  if (namespace) emitBefore([namespace], scope);
}

/** Adds the Argo CD sync-wave annotation to each object. */
export function addSyncWave(objects: ApiObject[], wave: number): void {
  for (const object of objects) object.metadata.addAnnotation('argocd.argoproj.io/sync-wave', String(wave));
}

/**
 * The Argo CD sync waves that put what a release needs before what needs it: the Namespace,
 * then the admission policies, then the migration's ServiceAccount, then the migration Job (its
 * own wave, default 0), then everything else (wave 0). Internal.
 */
export function argoCdWaves(jobWave: number): { namespace: number; policies: number; migrationServiceAccount: number } {
  const first = Math.min(jobWave, 0);
  return { namespace: first - 3, policies: first - 2, migrationServiceAccount: jobWave - 1 };
}
