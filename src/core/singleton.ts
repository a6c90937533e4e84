import { Construct, IConstruct } from 'constructs';

/**
 * The child `id` of `scope`, made by `create` on first use. State that an app, a chart or a
 * construct shares lives in the construct tree (the aws-cdk singleton idiom), not in a module
 * registry: it is found from any construct under its owner and is gone with the app. Internal.
 */
export function singletonChild<T extends IConstruct>(scope: IConstruct, id: string, create: (scope: Construct, id: string) => T): T {
  return (scope.node.tryFindChild(id) as T | undefined) ?? create(scope as Construct, id);
}
