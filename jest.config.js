/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  // The reliability suite runs on its own: npm run test:chaos (jest.chaos.config.js); the
  // browser suite too: npm run test:browser (jest.browser.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/spec/chaos/', '<rootDir>/spec/browser/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/spec/support/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/spec/support/after-env.ts'],
  testTimeout: 30000,
  // Examples import the package by name; in tests that name is the source, as with tsx.
  moduleNameMapper: {
    '^@chorus-services/backbeat$': '<rootDir>/lib/index.ts',
    '^@chorus-services/backbeat/(testing|prometheus)$': '<rootDir>/lib/$1/index.ts',
  },
};
