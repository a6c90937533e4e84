export * from './python-service';
export * from './python-server';
export * from './exposure';
export * from './network-policy';
export * from './availability';
export * from './persistence';
export * from './migrations';
export * from './monitoring';
