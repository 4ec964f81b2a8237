#!/usr/bin/env node
/**
 * The `idalloc` bin: checks the Node.js version first, answers `--help` (the
 * configuration, from the same schema the service parses) and `--version`, and
 * otherwise starts the service with the configuration in the environment.
 */
import { requireNode } from './node-check.js';

requireNode('idalloc');
const args = process.argv.slice(2);
const { serviceHelp, serviceVersion } = await import('./help.js');
if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
  process.stdout.write(serviceHelp());
} else if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`${serviceVersion()}\n`);
} else if (args.length > 0) {
  process.stderr.write(
    `idalloc: unknown argument '${args[0]}': the service takes its configuration from the environment; try idalloc --help\n`,
  );
  process.exitCode = 2;
} else {
  await import('../service/main.js');
}
