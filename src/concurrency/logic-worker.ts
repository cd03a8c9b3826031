/**
 * The task module of a Proactor pool: loads the app module named in the pool's workerData and
 * runs its service's `handle` on each message the IO loop sends.
 */
import { poolWorkerData } from '../pool/worker-data.js';
import { isService, type AnyService } from './service.js';

const { appUrl } = poolWorkerData() as { appUrl: string };
const mod = (await import(appUrl)) as { default?: unknown };
if (!isService(mod.default)) {
  throw new Error(`${appUrl}: with logic 'pool' the default export must be a service`);
}
const service: AnyService = mod.default;

export default function run(msg: unknown): unknown {
  return service.handle(msg as never);
}
