import { Size } from 'cdk8s';
import { parseImageReference } from './image-reference';
import { KUBERNETES_FEATURES, requireKubernetes } from './kubernetes-version';
import { kplus } from './plus';
import { containerResources, PythonServiceResources, PythonServiceSecurityContext, resolveResources, restrictedSecurityContext } from './python-pod-template';
import { PropValidator } from './validation';

/**
 * Options for a native sidecar (`addSidecar()`): a helper container that starts before the app
 * container and runs beside it for the pod's whole life (a Cloud SQL or database proxy, a log
 * shipper, an OpenTelemetry collector agent).
 */
export interface PythonSidecarOptions {
  /**
   * The sidecar's image. With `security`, it must be one of the allowed images.
   */
  readonly image: string;

  /**
   * The command.
   * @default - the image's entrypoint
   */
  readonly command?: string[];

  /**
   * Arguments to the command.
   * @default - the image's
   */
  readonly args?: string[];

  /**
   * Plain environment variables.
   * @default - none
   */
  readonly env?: { [name: string]: string };

  /**
   * A port the sidecar listens on inside the pod (e.g. a database proxy's 5432), named after the sidecar.
   * @default - none
   */
  readonly port?: number;

  /**
   * CPU and memory: a proxy or shipper needs far less than the app.
   * @default - 50m CPU and 64Mi memory requested, memory limit = request, 1Gi ephemeral storage
   */
  readonly resources?: PythonServiceResources;
}

const SIDECAR_MEMORY = Size.mebibytes(64);
// cdk8s-plus-28 writes ephemeral storage in whole Gi.
const SIDECAR_STORAGE = Size.gibibytes(1);

/**
 * Adds a native sidecar to a workload: an init container with `restartPolicy: Always` (on by
 * default since Kubernetes 1.29, GA in 1.33), so it is up before the app container starts, keeps
 * running beside it, does not keep a Job's pod alive, and stops after the app on shutdown. It
 * runs with the same numeric user, the restricted security context and a read-only root, and
 * its own small resources (not cdk8s-plus's 1 CPU / 2Gi defaults). Internal.
 */
export function addNativeSidecar(
  v: PropValidator, workload: kplus.AbstractPod, id: string, options: PythonSidecarOptions, user: PythonServiceSecurityContext,
): kplus.Container {
  const prop = `sidecars.${id}`;
  v.dnsLabel(`${prop} name`, id);
  requireKubernetes(workload, v, prop, options.image, KUBERNETES_FEATURES.nativeSidecars);
  if (!parseImageReference(options.image)) v.fail(`${prop}.image`, options.image, 'is not a valid image reference ([registry/]repository[:tag][@digest], repository in lower case)');
  v.integerInRange(`${prop}.port`, options.port, 1, 65535);
  const r = resolveResources(v, `${prop}.resources`, Object.assign({ cpu: kplus.Cpu.millis(50), memory: SIDECAR_MEMORY, ephemeralStorage: SIDECAR_STORAGE }, options.resources));
  return workload.addInitContainer({
    name: id,
    image: options.image,
    command: options.command ? [...options.command] : undefined,
    args: options.args ? [...options.args] : undefined,
    restartPolicy: kplus.ContainerRestartPolicy.ALWAYS,
    envVariables: Object.fromEntries(Object.entries(options.env ?? {}).map(([k, value]) => [k, kplus.EnvValue.fromValue(value)])),
    // A port name is at most 15 characters (IANA service name): a longer id leaves the port unnamed.
    ports: options.port !== undefined ? [{ number: options.port, name: id.length <= 15 ? id : undefined, protocol: kplus.Protocol.TCP }] : undefined,
    resources: containerResources(r),
    securityContext: restrictedSecurityContext(user),
  });
}
