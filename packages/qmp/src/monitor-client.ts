import { EventEmitter } from 'node:events';
import type * as TypedEmitterModule from 'typed-emitter';
import type { DisconnectError, MonitorConnection, RunState } from './connection.js';
import { QmpProtocolError } from './errors.js';

/** The events both clients emit, beside their own. */
/** The events every monitor client emits: its run state and its disconnection. */
export type MonitorClientEvents = {
  /** The run state changed (see RunState). */
  state: (state: RunState, previous: RunState) => void;
  /** Once, when the connection ends for any reason (including close()). */
  disconnect: (error: DisconnectError) => void;
};

// typed-emitter ships CommonJS typings; reach its default export through the namespace.
type TypedEmitter<E extends TypedEmitterModule.EventMap> = TypedEmitterModule.default<E>;
const Emitter = EventEmitter as unknown as new <E extends TypedEmitterModule.EventMap>() => TypedEmitter<E>;

/**
 * What QmpClient and HmpClient share on top of their connection core: the run state,
 * `connected`, closing, and the one way set-up ends (ready, or the connection ended
 * with the set-up's error).
 */
export abstract class MonitorClient<E extends MonitorClientEvents, Hello> extends Emitter<E> {
  /** The endpoint as shown in errors, e.g. `unix:/run/vm1.qmp`. */
  readonly endpoint: string;
  /** @internal The connection core shared by QmpClient and HmpClient. */
  protected abstract readonly core: MonitorConnection<Hello>;

  protected constructor(endpoint: string) {
    super();
    this.endpoint = endpoint;
  }

  /** Where the connection is in its life (see RunState). */
  get state(): RunState {
    return this.core.state;
  }

  /** True while commands may be sent. */
  get connected(): boolean {
    return this.core.state === 'running';
  }

  /** Closes the connection; pending calls reject with QmpDisconnectedError. */
  close(): Promise<void> {
    return this.core.close();
  }

  /** `await using client = ...`: closes the connection at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Runs the set-up (greeting, negotiation); the client is ready after it, or ended with its error. */
  protected async establish(setUp: () => Promise<void>): Promise<void> {
    try {
      await setUp();
    } catch (err) {
      this.core.shutdown(err instanceof QmpProtocolError ? err : new Error('connection set-up failed'));
      throw err;
    }
    this.core.ready();
  }
}
