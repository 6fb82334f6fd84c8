#!/usr/bin/env node
// The paxchain CLI entry point: `npx paxchain ...` and `node bin/run.js ...` both land here.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
