// The build step tsc cannot do: ship the Lua scripts beside the compiled code,
// so dist/store/redis/scripts.js finds them at dist/lua exactly as src/ does.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/lua', import.meta.url), new URL('../dist/lua', import.meta.url), {
  recursive: true,
});
