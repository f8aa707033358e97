#!/usr/bin/env bash
# Tasker in a user's own app, exactly as README.md's "Use Tasker in your app" says: pack this repository, install
# the tarball into a new app outside it, compile a small TypeScript app (a DSL template, handlers, code that
# creates tasks and awaits them), run `tasker migrate`, `tasker orchestrator` and `tasker worker` from the app's
# node_modules as separate processes, and check the results: a task completes; a handler's PermanentError fails
# its step after one attempt; a RetryableError's retryAfterMs sets the retry delay. Finally `tasker dev` runs
# from the app's 0700 directory with its own embedded PostgreSQL (as root: as the postgres OS user).
#
#   bash test/package/user-app.sh        (npm run test:package; DATABASE_URL defaults to 127.0.0.1:5432)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ADMIN_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
WORK="$(mktemp -d)" # outside the repository, and 0700: the postgres OS user cannot read it
PIDS=()
DB="tasker_app_$(date +%s)_$$"

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -d "$WORK/app/node_modules/pg" ]]; then
    (cd "$WORK/app" && ADMIN_URL="$ADMIN_URL" DB="$DB" node --input-type=module -e "
      import pg from 'pg';
      const c = new pg.Client(process.env.ADMIN_URL); await c.connect();
      await c.query('DROP DATABASE IF EXISTS ' + process.env.DB + ' WITH (FORCE)'); await c.end();" || true)
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { echo "--- user app: $*"; }

step "npm pack"
(cd "$ROOT" && npm pack --silent --pack-destination "$WORK" >/dev/null)
TARBALL="$(ls "$WORK"/tasker-*.tgz)"

step "a new app: npm install the tarball (+ typescript to compile the app)"
mkdir "$WORK/app" && cd "$WORK/app"
TS_VERSION="$(node -p "require('$ROOT/node_modules/typescript/package.json').version")"
TYPES_NODE_VERSION="$(node -p "require('$ROOT/node_modules/@types/node/package.json').version")"
cat > package.json <<'EOF'
{ "name": "my-app", "version": "1.0.0", "private": true, "type": "module" }
EOF
npm install --no-audit --no-fund --loglevel=error "$TARBALL" "typescript@$TS_VERSION" "@types/node@$TYPES_NODE_VERSION"

mkdir src
cat > tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
    "outDir": "dist", "rootDir": "src", "types": ["node"], "skipLibCheck": false
  },
  "include": ["src"]
}
EOF
cat > src/templates.ts <<'EOF'
import { defineTemplate } from 'tasker';

export const greeting = defineTemplate({ namespace: 'app', name: 'greeting', version: '1.0.0' })
  .step('hello', { handler: 'app.hello' })
  .step('shout', { handler: 'app.shout', dependsOn: ['hello'] })
  .build();

export const charge = defineTemplate({ namespace: 'app', name: 'charge', version: '1.0.0' })
  .step('charge_card', { handler: 'app.charge_card', retry: { maxAttempts: 3, backoffBaseMs: 50 } })
  .build();

export const flaky = defineTemplate({ namespace: 'app', name: 'flaky', version: '1.0.0' })
  .step('call_api', { handler: 'app.call_api', retry: { maxAttempts: 3, backoffBaseMs: 50, maxBackoffMs: 60000 } })
  .build();
EOF
cat > src/handlers.ts <<'EOF'
import { defineHandler, PermanentError, RetryableError } from 'tasker';

export const hello = defineHandler('app.hello', async (ctx) => ({ greeting: `hello ${String(ctx.context.name)}` }));

export const shout = defineHandler('app.shout', async (ctx) => {
  const { greeting } = ctx.dependencyResults.hello as { greeting: string };
  return { shouted: greeting.toUpperCase() };
});

export const chargeCard = defineHandler('app.charge_card', async () => {
  throw new PermanentError('card declined', { code: 'CARD_DECLINED' });
});

export const callApi = defineHandler('app.call_api', async (ctx) => {
  if (ctx.attempt === 1) throw new RetryableError('rate limited', { retryAfterMs: 3000, code: 'RATE_LIMITED' });
  return { attempt: ctx.attempt };
});
EOF
cat > src/main.ts <<'EOF'
// Creates tasks from code and awaits their results, as README.md's "Use Tasker in your app" shows.
import { createTasker, loadConfig, registerTemplate, TaskFailedError } from 'tasker';
import { charge, flaky, greeting } from './templates.js';

const tasker = createTasker({ config: loadConfig() });
for (const t of [greeting, charge, flaky]) await registerTemplate(tasker.pool, t);

function check(ok: boolean, what: string, detail: unknown): void {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(detail)}`);
  console.log(`ok  ${what}`);
}
const run = async (name: string, context: Record<string, unknown>) =>
  (await tasker.createTask({ namespace: 'app', name, context })).result({ timeoutMs: 60_000 });

const done = await run('greeting', { name: 'ada' });
check(JSON.stringify(done.shout) === '{"shouted":"HELLO ADA"}', 'greeting completes with its result', done);

const failed: unknown = await run('charge', {}).catch((e: unknown) => e);
check(failed instanceof TaskFailedError, 'a PermanentError fails the task (TaskFailedError)', failed);
const step = (failed as TaskFailedError).failedSteps[0];
check(step?.name === 'charge_card' && step.attempts === 1, 'after exactly one attempt', step);
check(step?.error?.retryable === false && step.error.code === 'CARD_DECLINED', 'not retryable', step?.error);

const started = Date.now();
const retried = await run('flaky', {});
check(JSON.stringify(retried.call_api) === '{"attempt":2}', 'a RetryableError is retried', retried);
// retryAfterMs asked for 3 s; the template's own backoff is about 50 ms.
check(Date.now() - started >= 2500, 'after the delay retryAfterMs asked for', Date.now() - started);
await tasker.close();
EOF
step "compile the app with tsc"
npx tsc -p tsconfig.json

step "npx tasker --version"
[[ "$(npx tasker --version)" == "$(node -p "require('$ROOT/package.json').version")" ]]
if grep -Eq "from 'tsx|import\('tsx" node_modules/tasker/bin/tasker.js; then echo "bin must not use tsx" >&2; exit 1; fi

step "a fresh database"
ADMIN_URL="$ADMIN_URL" DB="$DB" node --input-type=module -e "
  import pg from 'pg';
  const c = new pg.Client(process.env.ADMIN_URL); await c.connect();
  await c.query('CREATE DATABASE ' + process.env.DB); await c.end();"
export DATABASE_URL="${ADMIN_URL%/*}/$DB"
export TASKER_ENV=production
# Any free port for the worker's health server: other Tasker processes may run on this machine.
export TASKER_WORKER_WEB_PORT=0

step "tasker migrate, tasker orchestrator, tasker worker (separate processes)"
npx tasker migrate
# node_modules/.bin/tasker rather than npx, so that the pid is the tasker process itself (for its exit code).
node_modules/.bin/tasker orchestrator --no-api > orchestrator.log 2>&1 &
PIDS+=($!)
node_modules/.bin/tasker worker --handlers dist/handlers.js --namespace app > worker.log 2>&1 &
PIDS+=($!)

step "the app creates tasks and awaits their results"
if ! node dist/main.js; then
  echo "--- orchestrator log"; cat orchestrator.log; echo "--- worker log"; cat worker.log
  exit 1
fi
step "SIGTERM stops both cleanly (exit 0)"
for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do wait "$pid"; done
PIDS=()

step "tasker dev from the app's 0700 directory, with its own embedded PostgreSQL"
env -u DATABASE_URL -u TASKER_ENV npx tasker dev --no-api > dev.log 2>&1 || { cat dev.log; exit 1; }
grep -q "all example tasks complete" dev.log
echo "user app: all checks passed"
