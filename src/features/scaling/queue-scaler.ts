import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ResolvedQueueScaling } from './queue-scaling';
import { customResource } from '../../core/custom-resource';
import type * as keda from '../../imports/keda.sh';

// The KEDA objects of a worker's queue scaling. Internal.

function kedaApi(): typeof keda {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../imports/keda.sh');
}

/** What `addScaledObject` scales. */
export interface ScaledObjectTarget {
  readonly name: string;
  readonly labels: { [key: string]: string };
  readonly deploymentName: string;
  readonly scaling: ResolvedQueueScaling;
}

/**
 * A ScaledObject `<name>` for the Deployment (KEDA then creates and owns its HPA), and a
 * TriggerAuthentication `<name>-keda` when the trigger reads Secrets. Scale-down: after
 * `scaleDownStabilization`, one pod a minute, so a lull never terminates many busy workers at once.
 */
export function addScaledObject(scope: Construct, t: ScaledObjectTarget): { scaledObject: ApiObject; authentication?: ApiObject } {
  const api = kedaApi();
  const s = t.scaling;
  let authentication: ApiObject | undefined;
  if (s.secrets.length > 0) {
    authentication = customResource<keda.TriggerAuthenticationProps>(scope, 'TriggerAuthentication', api.TriggerAuthentication.GVK, api.toJson_TriggerAuthenticationProps, {
      metadata: { name: `${t.name}-keda`, labels: { ...t.labels } },
      spec: { secretTargetRef: s.secrets.map((secret) => ({ parameter: secret.parameter, name: secret.secretName, key: secret.key })) },
    });
  }
  const scaledObject = customResource<keda.ScaledObjectProps>(scope, 'ScaledObject', api.ScaledObject.GVK, api.toJson_ScaledObjectProps, {
    metadata: { name: t.name, labels: { ...t.labels } },
    spec: {
      scaleTargetRef: { name: t.deploymentName },
      minReplicaCount: s.minReplicas,
      maxReplicaCount: s.maxReplicas,
      pollingInterval: s.pollingInterval.toSeconds(),
      cooldownPeriod: s.cooldownPeriod.toSeconds(),
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleDown: {
              stabilizationWindowSeconds: s.scaleDownStabilization.toSeconds(),
              policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
            },
          },
        },
      },
      triggers: [{
        type: s.type,
        metadata: { ...s.metadata },
        authenticationRef: authentication ? { name: `${t.name}-keda` } : undefined,
      }],
    },
  });
  return { scaledObject, authentication };
}
