import { provisionTools } from './tools';

/**
 * Provisions the real programs the tests are judged by (kube-apiserver, etcd,
 * kube-controller-manager and kubectl per Kubernetes minor, Kyverno's CLI, promtool) before any
 * test file runs: built from the Go module proxy into a cache on the first run, reused after.
 */
export default function globalSetup(): void {
  provisionTools();
}
