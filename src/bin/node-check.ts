/**
 * The Node.js version check both bins run before loading anything else: the service
 * and the admin script need `node:sqlite` (unflagged from Node 22.13) and Node 22's
 * built-ins, so an older Node gets one line saying what is needed and what is running
 * instead of a module-loader stack. Imports nothing, so it loads on any Node.
 */

/** The oldest Node.js the package runs on (keep in step with `engines` in package.json). */
export const MIN_NODE = Object.freeze({ major: 22, minor: 13 });

/**
 * @param version a Node.js version as `process.versions.node` gives it (`24.11.1`)
 * @returns the one-line complaint for a version that is too old, or undefined
 */
export function nodeVersionProblem(bin: string, version: string): string | undefined {
  const [major = NaN, minor = NaN] = version.split('.').map(Number);
  const ok = major > MIN_NODE.major || (major === MIN_NODE.major && minor >= MIN_NODE.minor);
  if (ok) return undefined;
  return `${bin}: needs Node.js ${MIN_NODE.major}.${MIN_NODE.minor} or newer (Node 24 LTS recommended); this is Node.js ${version}`;
}

/** Exits with status 1 and the one-line complaint when this Node.js is too old. */
export function requireNode(bin: string): void {
  const problem = nodeVersionProblem(bin, process.versions.node);
  if (problem === undefined) return;
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
