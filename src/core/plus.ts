/**
 * The one module that imports cdk8s-plus: the library builds on cdk8s-plus-28, and moving to a
 * newer cdk8s-plus is an edit here (with plus-gaps.ts, which closes what this one lacks). Internal.
 */
import * as kplus from 'cdk8s-plus-28';

export { kplus };
export { k8s } from 'cdk8s-plus-28';
