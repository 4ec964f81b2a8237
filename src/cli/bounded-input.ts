/**
 * Reading a file the user names, within bounds (`audit` and `tag import`): a FIFO with no
 * writer, a device that never ends (/dev/zero), a line that never ends, or a file too large
 * to hold must end in a clear {@link InputError}, never in a hang or a heap grown until the
 * machine swaps. Regular files are read up to the size they had when opened (a log still
 * growing is read as it was); devices and sockets are refused; pipes and FIFOs are read
 * (where the caller accepts them) without blocking a thread, and given up on after `idleMs`
 * without a byte.
 */
import { constants, createReadStream, openSync, statSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';

/** An input refused or given up on: the message names it, the bound, and what to do. */
export class InputError extends Error {}

export interface InputBounds {
  /** Accept FIFOs (and stdin): read until their writer closes them. Else refused. */
  readonly pipes: boolean;
  /** Longest wait for the next byte of a FIFO or stdin, in ms; 0: no limit. */
  readonly idleMs: number;
  /** Most bytes of one input; a larger regular file is refused before it is read. */
  readonly maxBytes: number;
  /** Longest line, in bytes (line reading only). */
  readonly maxLineBytes?: number;
}

/** An input opened: its stream, and whether reads may stall (a FIFO or stdin). */
interface Opened {
  readonly stream: Readable;
  readonly mayStall: boolean;
}

function kindOf(st: Stats): string | undefined {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return undefined;
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes} bytes` : `${Math.round(bytes / 1024 / 1024)} MiB`;
}

/**
 * Opens `file` (a path; `label` names it in messages) as `bounds` allow.
 * @throws InputError for a device, socket or directory, a FIFO where none is accepted, a
 *   regular file over maxBytes; the fs error for a file that cannot be opened
 */
function openInput(file: string, label: string, bounds: InputBounds): Opened {
  const st = statSync(file); // does not block on a FIFO: only opening it does
  const kind = kindOf(st);
  if (kind !== undefined) {
    throw new InputError(`${label} is ${kind}, not a file: give a file, or pipe the data in`);
  }
  if (st.isFIFO()) {
    if (!bounds.pipes) {
      throw new InputError(
        `${label} is a FIFO (named pipe), which may have no writer and no end: copy it to a file first`,
      );
    }
    // Opened without blocking (a FIFO's open waits for a writer, holding a thread for
    // good); its reads then wait in the event loop, where the idle bound can end them.
    const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    return { stream: new Socket({ fd, readable: true, writable: false }), mayStall: true };
  }
  if (st.size > bounds.maxBytes) {
    throw new InputError(
      `${label} is ${mib(st.size)}, more than the ${mib(bounds.maxBytes)} this command reads`,
    );
  }
  if (st.size === 0) return { stream: Readable.from([]), mayStall: false };
  return { stream: createReadStream(file, { start: 0, end: st.size - 1 }), mayStall: false };
}

/** `promise`, or an InputError once `ms` pass without it settling. */
async function within<T>(promise: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // The read given up on settles later (when the stream is destroyed): nobody awaits it.
  promise.catch(() => {});
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new InputError(why())), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The chunks of an opened input, within the byte and idle bounds; destroys it at the end. */
async function* chunks(input: Opened, label: string, bounds: InputBounds): AsyncGenerator<Buffer> {
  const it = input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const idle = input.mayStall && bounds.idleMs > 0;
  let total = 0;
  try {
    for (;;) {
      const next = idle
        ? await within(
            it.next(),
            bounds.idleMs,
            () =>
              `no data from ${label} for ${bounds.idleMs / 1000} s (a FIFO with no writer? a terminal?): given up`,
          )
        : await it.next();
      if (next.done === true) return;
      const buf = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      total += buf.length;
      if (total > bounds.maxBytes) {
        throw new InputError(
          `${label} holds more than the ${mib(bounds.maxBytes)} this command reads`,
        );
      }
      yield buf;
    }
  } finally {
    input.stream.destroy();
  }
}

/** `file` ('-' for `stdin`) opened for reading, and its name for messages. */
function source(
  file: string,
  bounds: InputBounds,
  stdin?: Readable,
): { input: Opened; label: string } {
  if (file === '-') {
    if (stdin === undefined) throw new InputError(`'-' (stdin) is not accepted here: give a file`);
    return { input: { stream: stdin, mayStall: true }, label: 'stdin' };
  }
  return { input: openInput(file, `'${file}'`, bounds), label: `'${file}'` };
}

/**
 * Calls `onLine` for every line of `file` ('-': `stdin`), without its newline (or CRLF);
 * `unterminated` is true for a last line with no newline after it.
 * @throws InputError when the input is refused or a bound is reached
 */
export async function forEachLine(
  file: string,
  bounds: InputBounds,
  onLine: (line: string, unterminated: boolean) => void,
  stdin?: Readable,
): Promise<void> {
  const { input, label } = source(file, bounds, stdin);
  const maxLine = bounds.maxLineBytes ?? Infinity;
  let partial: Buffer[] = [];
  let partialBytes = 0;
  let lineNo = 0;
  const emit = (buf: Buffer, unterminated: boolean) => {
    lineNo++;
    const end = buf.length > 0 && buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length;
    onLine(buf.toString('utf8', 0, end), unterminated);
  };
  for await (const chunk of chunks(input, label, bounds)) {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      const piece = chunk.subarray(from, nl);
      emit(partial.length === 0 ? piece : Buffer.concat([...partial, piece]), false);
      partial = [];
      partialBytes = 0;
      from = nl + 1;
    }
    if (from < chunk.length) {
      partial.push(chunk.subarray(from));
      partialBytes += chunk.length - from;
      if (partialBytes > maxLine) {
        throw new InputError(
          `line ${lineNo + 1} of ${label} is longer than ${mib(maxLine)} with no end: not a log (a device such as /dev/zero?)`,
        );
      }
    }
  }
  if (partialBytes > 0) emit(Buffer.concat(partial), true);
}

/**
 * The whole of `file` as UTF-8 text: a regular file only, of at most `bounds.maxBytes`.
 * @throws InputError when the file is refused; the fs error when it cannot be read
 */
export async function readWhole(file: string, bounds: InputBounds): Promise<string> {
  const { input, label } = source(file, bounds);
  const parts: Buffer[] = [];
  for await (const chunk of chunks(input, label, bounds)) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}
