/**
 * `POST /v1/returns/{tag}`: an IdClient's hand-back through the service (docs/design.md
 * §5 "Hand-back"). The body names the lease (the key of its range answer) and the first
 * counter value the client never served: `{"lease":"…","from":"1234"}`. The answer is a
 * 200 saying what happened — `returned` IDs `from`..`end`, or `returned` "0" with the
 * `reason` — so that nothing in it invites a blind retry; only a malformed request is an
 * error (400). The allocator (allocator/give-back.ts) decides.
 */
import type { IncomingMessage } from 'node:http';
import type { Express } from 'express';
import { invalidArgument } from '../core/errors.js';
import { checkTagName } from '../core/tags.js';
import { JSON_TYPE, sendOk, type RouteContext } from './context.js';
import { ROUTES } from './routes.js';
import { pathParam, readQuery, shown } from './validate.js';

/** A return's body is under 100 bytes; more is refused unread. */
export const MAX_RETURN_BODY = 1024;

const DECIMAL = /^(0|[1-9]\d{0,18})$/;

/** The request body as text, at most {@link MAX_RETURN_BODY} bytes. */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_RETURN_BODY) {
      throw invalidArgument(
        `the body is larger than ${MAX_RETURN_BODY} bytes: expected {"lease","from"}`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `{"lease": string, "from": decimal string}`, nothing else. @throws INVALID_ARGUMENT */
export function parseReturn(text: string): { lease: string; from: bigint } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalidArgument(
      `the body '${shown(text)}' is not JSON: expected {"lease":"<the range answer's lease>","from":"<first unserved ID>"}`,
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidArgument('the body is not a JSON object: expected {"lease","from"}');
  }
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => k !== 'lease' && k !== 'from');
  if (extra.length > 0) {
    throw invalidArgument(`unknown field '${shown(extra[0]!)}': a return takes lease and from`);
  }
  if (typeof b.lease !== 'string') {
    throw invalidArgument("field 'lease' is required: the lease key of the range answer");
  }
  if (typeof b.from !== 'string' || !DECIMAL.test(b.from)) {
    throw invalidArgument(
      `field 'from' '${shown(String(b.from))}' is not allowed: expected the first unserved counter value as a decimal string`,
    );
  }
  return { lease: b.lease, from: BigInt(b.from) };
}

/** Registers the route on `app`. */
export function returnRoutes(app: Express, ctx: RouteContext): void {
  app.post(ROUTES.returns.pattern, ctx.auth, async (req, res) => {
    const tag = checkTagName(pathParam(req.params.tag));
    readQuery(req, []);
    const { lease, from } = parseReturn(await readBody(req));
    const r = await ctx.allocator.giveBack(tag, lease, from);
    sendOk(
      res,
      JSON_TYPE,
      JSON.stringify(
        r.reason === undefined
          ? { tag, returned: r.returned.toString(), from: r.from.toString(), end: r.end.toString() }
          : { tag, returned: '0', reason: r.reason, message: r.message },
      ),
    );
  });
}
