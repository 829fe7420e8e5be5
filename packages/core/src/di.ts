// tsyringe needs the Reflect polyfill before it is first evaluated; every
// module that uses DI imports it from here, so the order always holds.
import 'reflect-metadata';

export { container, inject, injectable, injectAll, instanceCachingFactory, singleton } from 'tsyringe';
export type { DependencyContainer, InjectionToken } from 'tsyringe';
