import type { types } from 'mediasoup';

/**
 * Every producer created on these workers from now on, by id, through
 * mediasoup's observer API (what any monitoring tool sees): benches read the SDK
 * side's producer stats this way, without reaching into a room.
 */
export function watchProducers(workers: readonly types.Worker[]): ReadonlyMap<string, types.Producer> {
  const producers = new Map<string, types.Producer>();
  for (const worker of workers) {
    worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (transport) =>
        transport.observer.on('newproducer', (producer) => {
          // Pipe producers of a sharded room carry the same id: keep the original.
          if (transport.type === 'pipe') return;
          producers.set(producer.id, producer);
          producer.observer.once('close', () => producers.delete(producer.id));
        }),
      ),
    );
  }
  return producers;
}
