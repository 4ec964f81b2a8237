#!/usr/bin/env node
/**
 * The `idalloc-admin` bin: checks the Node.js version first, then runs the admin script
 * (docs/design.md §3). The check comes before the admin script is loaded, because
 * loading it on an old Node fails inside the module loader with a stack.
 */
import { requireNode } from './node-check.js';

requireNode('idalloc-admin');
await import('../cli/admin.js');
