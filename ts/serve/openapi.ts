// The OpenAPI 3.1 document, made from the route table itself: every route with its access rule, body schema
// and main response, and an empty `security` on the routes that need no credentials.
import { INTERFACE_NAME } from '../config/wgquick';
import { packageVersion } from '../native';
import { Route } from './http';
import { object } from './schema';
import { CLIENT_ID_PATTERN } from './values';

const errorSchema = object({
  error: object({
    code: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string', description: 'the request field at fault, when one is' },
  }),
});

const ACCESS_TEXT: Record<Route['access'], string> = {
  public: 'No credentials.',
  read: 'An admin session or any API token.',
  write: 'An admin session (with X-CSRF-Token) or a read-write API token.',
  admin: 'An admin session (with X-CSRF-Token on changes); API tokens are refused.',
  metrics: 'No credentials, or the --metrics-token as a bearer token when one is set.',
};

function security(r: Route): Record<string, string[]>[] {
  const session: Record<string, string[]> = r.method === 'GET' ? { session: [] } : { session: [], csrf: [] };
  switch (r.access) {
    case 'public':
      return [];
    case 'metrics':
      return [{}, { metricsToken: [] }];
    case 'admin':
      return [session];
    default:
      return [session, { token: [] }];
  }
}

/** Path parameters whose form the server checks (values.ts), so that a client generated from the document, or
 * a fuzzer, knows it. */
const PATH_PARAMS: Record<string, Record<string, unknown>> = {
  id: { type: 'string', pattern: CLIENT_ID_PATTERN, description: "a client's public key in base64url" },
  iface: { type: 'string', pattern: INTERFACE_NAME.source, description: 'an interface name, as its config file is named' },
  tokenId: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
};

function operation(r: Route): Record<string, unknown> {
  const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: PATH_PARAMS[m[1]] ?? { type: 'string' } }));
  for (const [name, schema] of Object.entries(r.query ?? {})) params.push({ name, in: 'query', required: false, schema } as never);
  if (r.ifMatch) {
    const description = 'the ETag read with the resource: if it changed since, nothing is done and the answer is 409';
    params.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description } as never);
  }
  const status = String(r.response?.status ?? 200);
  const ok: Record<string, unknown> = { description: r.response?.description ?? 'success' };
  if (status !== '204') {
    const type = r.response?.mediaType ?? 'application/json';
    ok.content = { [type]: { schema: r.response?.schema ?? (type === 'application/json' ? {} : { type: 'string' }) } };
  }
  const error = { description: 'an error naming the field at fault', content: { 'application/json': { schema: errorSchema } } };
  const op: Record<string, unknown> = {
    summary: r.summary,
    description: ACCESS_TEXT[r.access],
    operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    security: security(r),
    parameters: params,
    responses: { [status]: ok, default: error },
  };
  if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: r.body } } };
  return op;
}

export function openApiDocument(routes: Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'wiretun serve',
      version: packageVersion(),
      description: 'The console API: interfaces, clients, tokens and the admin account. Errors are JSON: {"error": {"code", "message", "field"}}.',
    },
    paths,
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'wiretun_session' },
        csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
        token: { type: 'http', scheme: 'bearer', description: 'an API token (POST /api/tokens)' },
        metricsToken: { type: 'http', scheme: 'bearer', description: '--metrics-token' },
      },
    },
  };
}
