/** Where the example server reports what went wrong: the console by default; tests pass their own to capture it. */
export type Logger = Pick<Console, 'warn' | 'error'>;
