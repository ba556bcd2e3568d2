/**
 * The reliability suite, `npm run test:chaos`: real nats-servers killed and restarted, a
 * three-node JetStream cluster failing over, attacks over NATS, fuzzing, and an hour-long soak
 * on fake time. Same transform, setup and module names as `npm test`; only spec/chaos.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  roots: ['<rootDir>/spec/chaos'],
  testPathIgnorePatterns: ['/node_modules/'],
  // One file at a time: the timing assertions (degradation, failover) must not share the two
  // cores with another file's nats-servers.
  maxWorkers: 1,
  testTimeout: 120_000,
};
