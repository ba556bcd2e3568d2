/**
 * Whether `value` is a thenable: a user callback's promise, or a connection still to come.
 *
 * @example
 * const result = callback(beat);
 * if (isPromiseLike(result)) result.then(undefined, report);
 * @param value Anything.
 * @return True for an object (or function) with a `then` method.
 */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
