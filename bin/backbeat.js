#!/usr/bin/env node
'use strict';
// The `backbeat` command: runs the built CLI (npm run build writes dist/cjs/cli/main.js).
// Exit codes: 0 ok, 1 runtime failure, 2 usage error (see `backbeat --help`).
require('../dist/cjs/cli/main.js')
  .runCli()
  .catch((error) => {
    process.stderr.write(`error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
