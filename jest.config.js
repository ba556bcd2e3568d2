/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/spec/support/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/spec/support/after-env.ts'],
  testTimeout: 30000,
};
