/**
 * How a model brings connections to its loops. The group (supervisor) starts and replaces
 * workers; the feeder decides where connections come from and how each worker receives them.
 * Call everything from the main thread.
 */
import type { ServerAddress } from '../io/listener.js';
import type { Intake } from './protocol.js';
import type { WorkerHost } from './worker-host.js';

export interface IntakeSpec {
  intake: Intake;
  /** A process worker's end of the fd-passing socket pair (becomes its fd 4). */
  scmFd?: number;
}

export interface Feeder {
  /** Binds the shared listening socket, if the model has one. */
  open(): Promise<ServerAddress | undefined>;
  /** Reuse-port learns the port from the first loop: start it alone. */
  readonly firstAlone: boolean;
  /** How a new worker for loop `id` of `generation` gets connections. */
  intake(id: number, generation: number): IntakeSpec;
  /** The worker is ready: it may be given connections (once its generation is active). */
  attach(host: WorkerHost): void;
  /** Route new connections to these workers (a new generation after a reload). */
  activate(generation: number, hosts: readonly WorkerHost[]): void;
  /** The worker has exited (crash, drain or kill): recover what it had not taken. */
  detach(host: WorkerHost, crashed: boolean): void;
  /** Stops bringing new connections. */
  stop(): Promise<void>;
  /** Releases the listening socket; after every worker has exited. */
  close(): void;
  /** Model-specific numbers for `stats()`. */
  extra(): Record<string, number>;
}
