#!/usr/bin/env -S node --no-memory-reducer
/**
 * The `idalloc` bin: checks the Node.js version first, answers `--help` (the
 * configuration, from the same schema the service parses) and `--version`, and
 * otherwise starts the service with the configuration in the environment.
 *
 * Node runs it with `--no-memory-reducer` (the shebang; `npm start` and the image's CMD
 * pass it too): V8's idle-time memory-reducing GCs left a Node HTTP server spending
 * 13–25 % more CPU per request once traffic came back, for as long as it was watched
 * (docs/benchmarks.md, check of 2026-12-06 15:00). An idle node keeps its heap's peak
 * size instead (tens of MB). The flag cannot be set from inside (`v8.setFlagsFromString`
 * left some of those GCs running), and `NODE_OPTIONS` does not take it.
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
