import { EventEmitter } from 'eventemitter3';

/**
 * eventemitter3 with an event map: `on('peerJoined', (e) => ...)` is typed by
 * the map, like mediasoup's EnhancedEventEmitter. A listener that throws is
 * caught and reported to `listenerError` so a host's bug cannot break the SDK.
 */
export class TypedEmitter<Events extends object> extends EventEmitter<{
  [K in keyof Events]: (event: Events[K]) => void;
}> {
  /** Emits without letting a throwing listener escape into SDK internals. */
  safeEmit<K extends keyof Events & string>(name: K, event: Events[K]): void {
    try {
      (this.emit as (n: string, e: unknown) => boolean)(name, event);
    } catch (error) {
      if (name !== 'listenerError') {
        (this.emit as (n: string, e: unknown) => boolean)('listenerError', { event: name, error });
      }
    }
  }
}
