import { ensureNatsServer } from '../../scripts/nats-server-bin';

/**
 * Finds (or fetches, once per run) the nats-server binary and hands its path to the test
 * workers through NATS_SERVER_BIN, so that no worker searches or downloads again.
 */
export default function globalSetup(): void {
  process.env.NATS_SERVER_BIN = ensureNatsServer({
    log: (line) => process.stderr.write(`${line}\n`),
  });
}
