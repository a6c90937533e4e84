// cdk8s 2.70 has no warnings API (aws-cdk's Annotations have no cdk8s twin), so a warning is a
// line on stderr, printed once per process and key. Set CDK8S_PYTHON_SERVICE_QUIET=1 to silence
// them once read. Internal.

const printed = new Set<string>();

/** Prints `message` once per `key` and process. */
export function warnOnce(key: string, message: string): void {
  if (printed.has(key) || process.env.CDK8S_PYTHON_SERVICE_QUIET === '1') return;
  printed.add(key);
  process.stderr.write(`[cdk8s-python-service] warning: ${message}\n`);
}
