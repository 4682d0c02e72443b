/**
 * Runs tasks one after another. Used per peer (its requests apply in order, so
 * two transports created at once land on the same router) and per room (router
 * placement decisions never race).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    // Settle to undefined: keeping `result` itself would pin the last task's value.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
