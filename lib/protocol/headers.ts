import type { MsgHdrs } from 'nats';

/**
 * Message headers as nats.js gives them, or as a plain record (names in any case).
 *
 * @example
 * ```ts
 * const fromNats: HeadersLike = msg.headers!;
 * const byHand: HeadersLike = { 'X-Agent-Id': 'my-service', 'x-hlc': ['018bcfe56800:0001:my-service'] };
 * ```
 */
export type HeadersLike = MsgHdrs | Readonly<Record<string, string | readonly string[]>>;

function isMsgHdrs(headers: HeadersLike): headers is MsgHdrs {
  return (
    typeof (headers as MsgHdrs).keys === 'function' &&
    typeof (headers as MsgHdrs).values === 'function'
  );
}

/**
 * Every value of header `name`, comparing names without regard to case (docs/protocol.md section 1):
 * an empty array when it is absent, more than one value when it was given twice (in any case).
 *
 * @param headers nats.js headers or a plain record; undefined means none.
 * @param name The header name, as the protocol spells it.
 */
export function headerValues(headers: HeadersLike | undefined, name: string): string[] {
  if (!headers) return [];
  const wanted = name.toLowerCase();
  const found: string[] = [];
  if (isMsgHdrs(headers)) {
    for (const key of headers.keys()) {
      if (key.toLowerCase() === wanted) found.push(...headers.values(key));
    }
    return found;
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    if (typeof value === 'string') found.push(value);
    else found.push(...value);
  }
  return found;
}
