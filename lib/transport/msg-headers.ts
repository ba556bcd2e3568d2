import { headers as natsHeaders, type MsgHdrs } from 'nats';

/**
 * nats.js headers holding a record's entries, names spelled exactly as given.
 *
 * @example
 * nc.publish(sealed.subject, sealed.payload, { headers: toMsgHdrs(sealed.headers) });
 * @param record Header names and values.
 * @return nats.js headers.
 */
export function toMsgHdrs(record: Readonly<Record<string, string>>): MsgHdrs {
  const hdrs = natsHeaders();
  for (const name of Object.keys(record)) hdrs.set(name, record[name]);
  return hdrs;
}
