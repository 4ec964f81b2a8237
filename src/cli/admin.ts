#!/usr/bin/env node
/**
 * The admin script's entry (`node dist/cli/admin.js`, `npm run admin`): checks the
 * Node.js version as the bins do (bin/node-check.ts), then runs the script itself
 * (cli/admin-main.ts). The check comes before the script is loaded: on an older Node,
 * loading it fails inside the module loader (no `node:sqlite`) with a stack instead of
 * one line and exit 1.
 */
import { requireNode } from '../bin/node-check.js';

requireNode('idalloc-admin');
await import('./admin-main.js');
