// Request bodies are described once, as JSON Schema (the subset below), and that one description both
// validates the request and goes into the OpenAPI document, so the two cannot drift apart.
import { ApiError } from './http';

export interface Schema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null' | ('string' | 'integer' | 'boolean' | 'null' | 'array' | 'object')[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: false;
  items?: Schema;
  enum?: string[];
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  format?: string;
  /** An ECMAScript regular expression the string must contain a match of (unanchored, as in JSON Schema). Write
   * character classes out: `\\s` and `\\d` mean other things to other languages' validators and generators. */
  pattern?: string;
  /** Also ends the error message of a failed `pattern` ("name is not DESCRIPTION"). */
  description?: string;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function accepts(schema: Schema, actual: string): boolean {
  if (!schema.type) return true;
  const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
  return allowed.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

/** Throws a 400 naming the first field that does not fit (`name`, `addresses[1]`, `clientDefaults.dns`). */
export function validate(schema: Schema, value: unknown, field = ''): void {
  const actual = typeOf(value);
  const where = field || 'body';
  if (!accepts(schema, actual)) {
    const want = Array.isArray(schema.type) ? schema.type.join(' or ') : schema.type;
    throw new ApiError(400, 'invalid', `${where} must be ${want === 'object' ? 'an object' : `a ${want}`}`, field || undefined);
  }
  if (actual === 'string') {
    const s = value as string;
    if (schema.enum && !schema.enum.includes(s)) throw new ApiError(400, 'invalid', `${where} must be one of ${schema.enum.join(', ')}`, field);
    // JSON Schema counts characters (code points), not UTF-16 units: an emoji is one, as the document promises.
    const length = [...s].length;
    if (schema.minLength !== undefined && length < schema.minLength) throw new ApiError(400, 'invalid', `${where} is too short (at least ${schema.minLength})`, field);
    if (schema.maxLength !== undefined && length > schema.maxLength) throw new ApiError(400, 'invalid', `${where} is too long (at most ${schema.maxLength})`, field);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(s)) {
      throw new ApiError(400, 'invalid', `${where} is not ${schema.description ?? `of the form ${schema.pattern}`}`, field);
    }
  }
  if (actual === 'integer' || actual === 'number') {
    const n = value as number;
    if (schema.minimum !== undefined && n < schema.minimum) throw new ApiError(400, 'invalid', `${where} must be at least ${schema.minimum}`, field);
    if (schema.maximum !== undefined && n > schema.maximum) throw new ApiError(400, 'invalid', `${where} must be at most ${schema.maximum}`, field);
  }
  if (actual === 'array') {
    const list = value as unknown[];
    if (schema.maxItems !== undefined && list.length > schema.maxItems) throw new ApiError(400, 'invalid', `${where} has more than ${schema.maxItems} items`, field);
    if (schema.items) list.forEach((item, i) => validate(schema.items!, item, `${field}[${i}]`));
  }
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    const join = (k: string) => (field ? `${field}.${k}` : k);
    for (const k of Object.keys(obj)) {
      if (schema.additionalProperties === false && !Object.hasOwn(schema.properties ?? {}, k)) {
        throw new ApiError(400, 'unknown_field', `${join(k)} is not a known field`, join(k));
      }
    }
    for (const k of schema.required ?? []) {
      if (!Object.hasOwn(obj, k)) throw new ApiError(400, 'missing', `${join(k)} is required`, join(k));
    }
    for (const [k, sub] of Object.entries(schema.properties ?? {})) {
      if (Object.hasOwn(obj, k)) validate(sub, obj[k], join(k));
    }
  }
}

/** A strict object: every listed property known, nothing else allowed. */
export function object(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: 'object', properties, required, additionalProperties: false };
}

/** Holds a character that String.prototype.trim() keeps (its whitespace set, written out), and no NUL anywhere:
 * PostgreSQL's text cannot store one. */
export const NOT_BLANK = '^[^\\u0000]*[^\\u0000\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff][^\\u0000]*$';

export const str = (maxLength: number, extra: Partial<Schema> = {}): Schema => ({ type: 'string', maxLength, ...extra });
export const cidrList: Schema = { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 };
