/**
 * Runs tasks one after another. Used per peer (its requests apply in order, so
 * two transports created at once land on the same router) and per room (router
 * placement decisions never race).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  private pending = 0;

  /** True when no task is queued or running. */
  get idle(): boolean {
    return this.pending === 0;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending += 1;
    const result = this.tail.then(task, task).finally(() => (this.pending -= 1));
    // Settle to undefined: keeping `result` itself would pin the last task's value.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
