/**
 * The browser suite, `npm run test:browser`: the SDK's browser build and `backbeat board` in a
 * real headless Chromium against a real nats-server with its WebSocket listener. Needs
 * Chromium (scripts/chromium-bin.js finds or installs it, or fails with a hint; never skipped).
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  roots: ['<rootDir>/spec/browser'],
  testPathIgnorePatterns: ['/node_modules/'],
  // The specs name the pages' globals (window): typed with the DOM.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.browser.json' }] },
  // One browser at a time on two cores.
  maxWorkers: 1,
  testTimeout: 60_000,
};
