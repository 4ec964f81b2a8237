/**
 * Checks real HTTP answers against the served OpenAPI document: the status must be one
 * the operation documents, the content type one of that response's media types, the
 * body valid against its schema (Ajv, JSON Schema 2020-12, as OpenAPI 3.1 uses), and
 * every documented header present when required and valid. Records what it checked, so
 * a test can assert that every operation and every error code was seen.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

type Obj = Record<string, unknown>;

/** ajv-formats is CommonJS: its default export is the function under ESM interop. */
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const DOC_ID = 'openapi';

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

export interface Checked {
  readonly operation: string;
  readonly status: number;
  readonly code?: string;
}

export class OpenApiChecker {
  private readonly ajv: Ajv2020;
  readonly checked: Checked[] = [];

  constructor(readonly doc: Obj) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(doc, DOC_ID);
  }

  /** Every `method path` the document has, as `operationId`s. */
  operations(): string[] {
    const out: string[] = [];
    for (const ops of Object.values(this.doc.paths as Obj)) {
      for (const op of Object.values(ops as Obj)) out.push((op as Obj).operationId as string);
    }
    return out;
  }

  /**
   * Validates one answer. `path` is the document's path template (`/v1/ids/{tag}`), or
   * `null` for a request no route matches (checked against components/responses/NotFound).
   * @throws an Error naming what does not match
   */
  async check(
    res: Response,
    path: string | null,
    method: 'get' | 'post' = 'get',
  ): Promise<{ body: string; json?: unknown }> {
    const body = await res.text();
    let response: Obj;
    let at: string;
    let operation: string;
    if (path === null) {
      operation = 'unmatched';
      at = '#/components/responses/NotFound';
      response = this.resolve(at);
      if (res.status !== 404) throw new Error(`an unmatched route answered ${res.status}`);
    } else {
      const op = ((this.doc.paths as Obj)[path] as Obj | undefined)?.[method] as Obj | undefined;
      if (!op) throw new Error(`the document has no ${method.toUpperCase()} ${path}`);
      operation = op.operationId as string;
      const declared = (op.responses as Obj)[String(res.status)] as Obj | undefined;
      if (!declared) {
        throw new Error(
          `${method.toUpperCase()} ${path} answered ${res.status}, which the document does not list: ${body}`,
        );
      }
      at = `#/${pointer('paths', path, method, 'responses', String(res.status))}`;
      if (typeof declared.$ref === 'string') at = declared.$ref;
      response = this.resolve(at);
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const content = response.content as Obj;
    if (!(type in content)) {
      throw new Error(
        `${operation} ${res.status}: content type '${type}' is not one of ${Object.keys(content).join(', ')}`,
      );
    }
    let json: unknown;
    let value: unknown = body;
    if (type === 'application/json') {
      json = JSON.parse(body);
      value = json;
    }
    this.validate(
      `${at}/${pointer('content', type, 'schema')}`,
      value,
      `${operation} ${res.status} body`,
    );
    for (const [name, h] of Object.entries((response.headers ?? {}) as Obj)) {
      const header = this.deref(h as Obj);
      const got = res.headers.get(name);
      if (got === null) {
        if (header.required === true)
          throw new Error(`${operation} ${res.status}: header ${name} is missing`);
        continue;
      }
      this.validateSchema(header.schema as Obj, got, `${operation} ${res.status} header ${name}`);
    }
    const code = (json as { error?: { code?: string } } | undefined)?.error?.code;
    this.checked.push({ operation, status: res.status, ...(code ? { code } : {}) });
    return json === undefined ? { body } : { body, json };
  }

  private resolve(ref: string): Obj {
    let node: unknown = this.doc;
    for (const part of ref.replace(/^#\//, '').split('/')) {
      node = (node as Obj)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
    }
    if (node === undefined) throw new Error(`the document has nothing at ${ref}`);
    return this.deref(node as Obj);
  }

  private deref(node: Obj): Obj {
    return typeof node.$ref === 'string' ? this.resolve(node.$ref) : node;
  }

  private validate(schemaAt: string, value: unknown, what: string): void {
    const validate = this.ajv.getSchema(`${DOC_ID}${schemaAt}`);
    if (!validate) throw new Error(`no schema at ${schemaAt}`);
    if (!validate(value)) {
      throw new Error(
        `${what} does not match ${schemaAt}: ${this.ajv.errorsText(validate.errors)}; got ${JSON.stringify(value)}`,
      );
    }
  }

  private validateSchema(schema: Obj, value: unknown, what: string): void {
    const validate = this.ajv.compile(schema);
    if (!validate(value)) {
      throw new Error(
        `${what} does not match: ${this.ajv.errorsText(validate.errors)}; got ${JSON.stringify(value)}`,
      );
    }
  }
}
