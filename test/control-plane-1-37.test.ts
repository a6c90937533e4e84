import { describeControlPlaneTier } from './support/cluster-tier';

// The library's output judged by a real Kubernetes 1.37 control plane (etcd, kube-apiserver,
// kube-controller-manager on loopback): apply, type checking, admission, a second apply, releases.
describe('on a real Kubernetes 1.37 control plane', () => describeControlPlaneTier('1.37'));
