import * as kplus from 'cdk8s-plus-28';
import { Exposure } from '../src';

describe('Exposure', () => {
  test('clusterIp is cluster-internal', () => {
    expect(Exposure.clusterIp()).toMatchObject({ serviceType: kplus.ServiceType.CLUSTER_IP, clusterInternal: true });
  });

  test('loadBalancer, nodePort and ingress reach outside the cluster', () => {
    expect(Exposure.loadBalancer()).toMatchObject({ serviceType: kplus.ServiceType.LOAD_BALANCER, clusterInternal: false });
    expect(Exposure.nodePort({ nodePort: 30001 })).toMatchObject({
      serviceType: kplus.ServiceType.NODE_PORT, requestedNodePort: 30001, clusterInternal: false,
    });
    const ingress = Exposure.ingress({ host: 'a.example.com' });
    expect(ingress).toMatchObject({ serviceType: kplus.ServiceType.CLUSTER_IP, clusterInternal: false });
    expect(ingress.ingressOptions).toEqual({ host: 'a.example.com' });
  });
});
