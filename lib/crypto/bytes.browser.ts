/**
 * The browser edge of `bytes.ts`: whether a value is a `Uint8Array`, from another realm too.
 */

/** %TypedArray%.prototype, whose `Symbol.toStringTag` getter reads a typed array's real type. */
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

/**
 * Whether a value is a `Uint8Array`, as node:util/types' `isUint8Array` answers: by the
 * internal slot, so a look-alike object is not one and an iframe's array is.
 *
 * @example
 * isUint8Array(new Uint8Array(2)); // true
 * isUint8Array({ [Symbol.toStringTag]: 'Uint8Array' }); // false
 */
export function isUint8Array(value: unknown): value is Uint8Array {
  return (
    ArrayBuffer.isView(value) &&
    Reflect.get(typedArrayPrototype, Symbol.toStringTag, value) === 'Uint8Array'
  );
}
