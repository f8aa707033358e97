/**
 * Serving the web dashboard at `/ui`: the built single-page app from the package's `dist/ui` (Vite writes
 * `index.html` and hashed files under `assets/`). The page is public and holds no secrets; every API call it makes
 * is authenticated as usual. Paths under `/ui` that are not files get `index.html` (the app routes on the client),
 * except under `assets/`, where a missing file is a plain 404. Every response carries a strict
 * Content-Security-Policy: scripts, styles and connections from this origin only, nothing inline.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrorCode } from './errors.js';

/** Where the build puts the dashboard: `dist/ui` of the package (this file is in `src/api/` or `dist/api/`). */
export const DEFAULT_UI_ROOT = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

/** The URL path the dashboard is served under. */
export const UI_PATH = '/ui';

/** The Content-Security-Policy of every `/ui` response. */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Hashed build output never changes under its name: cache it for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html above all) is revalidated on every load, so a new build is picked up at once. */
const REVALIDATE = 'no-cache';

/** The error code of `/ui` when the dashboard was not built. */
export const UI_NOT_BUILT = 'UI_NOT_BUILT';

function securityHeaders(reply: FastifyReply): void {
  void reply
    .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

function isAsset(url: string): boolean {
  return url.split('?')[0]!.startsWith(`${UI_PATH}/assets/`);
}

/** Serves the dashboard from `root` (a directory with `index.html`). */
async function serveBuilt(app: FastifyInstance, root: string): Promise<void> {
  await app.register(
    async (scope) => {
      await scope.register(fastifyStatic, {
        root,
        prefix: '/',
        index: false,
        redirect: false,
        dotfiles: 'ignore',
        cacheControl: false,
        setHeaders: (reply, path) => {
          securityHeaders(reply);
          const asset = path.startsWith(join(root, 'assets'));
          void reply.header('cache-control', asset ? IMMUTABLE : REVALIDATE);
        },
      });
      const shell = (request: FastifyRequest, reply: FastifyReply) => {
        securityHeaders(reply);
        if (isAsset(request.url) || (request.method !== 'GET' && request.method !== 'HEAD')) {
          return reply
            .code(404)
            .header('cache-control', REVALIDATE)
            .send({
              error: { code: ApiErrorCode.NotFound, message: `no file ${request.url.split('?')[0]}` },
            });
        }
        // sendFile's headers come from setHeaders above (no-cache for index.html).
        return reply.sendFile('index.html');
      };
      scope.get('/', shell);
      scope.setNotFoundHandler(shell);
    },
    { prefix: UI_PATH },
  );
}

/** Answers every `/ui` path with 404 and how to build the dashboard (the server's paths stay out of it). */
function serveNotBuilt(app: FastifyInstance): void {
  const notBuilt = (_request: FastifyRequest, reply: FastifyReply) =>
    reply.code(404).send({
      error: {
        code: UI_NOT_BUILT,
        message:
          'the dashboard is not built: run `npm run build` (it writes dist/ui), then restart the server',
      },
    });
  app.get(UI_PATH, notBuilt);
  app.get(`${UI_PATH}/*`, notBuilt);
}

/**
 * Mounts the dashboard on `app` from `root` (default {@link DEFAULT_UI_ROOT}). Returns whether it was found; when
 * it was not, `/ui` answers 404 `UI_NOT_BUILT` saying to run `npm run build`.
 */
export async function mountUi(app: FastifyInstance, root: string = DEFAULT_UI_ROOT): Promise<boolean> {
  if (!existsSync(join(root, 'index.html'))) {
    serveNotBuilt(app);
    return false;
  }
  await serveBuilt(app, root);
  return true;
}
