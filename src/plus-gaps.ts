import { ApiObject } from 'cdk8s';
import { afterRender } from './after-render';

/**
 * The gaps between what cdk8s-plus-28 renders and what the API server stores, closed on the
 * rendered manifest. Each one is named for the kind it fixes, so moving to a newer cdk8s-plus is
 * an edit here. Internal.
 */

/**
 * cdk8s-plus-28 renders `externalIPs: []` on every Service. The API server drops empty lists, so
 * the applied file would differ from the live object on every apply.
 */
export function closeServiceGaps(service: ApiObject): void {
  afterRender(service, (manifest) => {
    if (Array.isArray(manifest.spec?.externalIPs) && manifest.spec.externalIPs.length === 0) delete manifest.spec.externalIPs;
  });
}

/** cdk8s-plus-28 renders `spec: {}` on every Namespace, which the API server drops likewise. */
export function closeNamespaceGaps(namespace: ApiObject): void {
  afterRender(namespace, (manifest) => {
    if (manifest.spec && Object.keys(manifest.spec).length === 0) delete manifest.spec;
  });
}
