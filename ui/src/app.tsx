/**
 * The app shell: finds out who is signed in (the stored credential, or none when the server runs without auth),
 * shows the sign-in page when needed, and otherwise the left navigation and the page of the current route.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api, ApiError } from './api.js';
import type { WhoAmI } from './api-types.js';
import { clearCredential, loadCredential, storeCredential, type Credential } from './credentials.js';
import { useRoute } from './hooks.js';
import { Nav } from './nav.js';
import { DeadLetters } from './pages/dead-letters.js';
import { Overview } from './pages/overview.js';
import { SignIn } from './pages/sign-in.js';
import { TaskList } from './pages/task-list.js';
import { TaskPage } from './pages/task-page.js';
import { TemplateList } from './pages/template-list.js';
import { TemplatePage } from './pages/template-page.js';
import type { Route } from './router.js';
import { SessionContext, type Session } from './session.js';

type AuthState =
  | { kind: 'checking' }
  | { kind: 'signed_out'; notice?: string }
  | { kind: 'signed_in'; credential: Credential | undefined; principal: WhoAmI }
  | { kind: 'unreachable'; message: string };

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <Overview />;
    case 'tasks':
      return <TaskList query={route.query} />;
    case 'task':
      return <TaskPage taskUuid={route.taskUuid} stepUuid={route.stepUuid} />;
    case 'templates':
      return <TemplateList />;
    case 'template':
      return <TemplatePage namespace={route.namespace} name={route.name} version={route.version} />;
    case 'dlq':
      return <DeadLetters query={route.query} />;
    case 'not_found':
      return (
        <section class="page">
          <h1>Not found</h1>
          <p class="muted">Nothing lives at {route.path}.</p>
        </section>
      );
  }
}

export function App() {
  const [auth, setAuth] = useState<AuthState>({ kind: 'checking' });
  const route = useRoute();

  useEffect(() => {
    const stored = loadCredential();
    new Api(stored)
      .whoami()
      .then((principal) => setAuth({ kind: 'signed_in', credential: stored, principal }))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 401) {
          clearCredential();
          setAuth(
            stored ? { kind: 'signed_out', notice: 'Your sign-in has expired.' } : { kind: 'signed_out' },
          );
        } else {
          setAuth({ kind: 'unreachable', message: (e as Error).message });
        }
      });
  }, []);

  const session = useMemo((): Session | undefined => {
    if (auth.kind !== 'signed_in') return undefined;
    const signOut = () => {
      clearCredential();
      setAuth({ kind: 'signed_out' });
    };
    const expired = () => {
      clearCredential();
      setAuth({
        kind: 'signed_out',
        notice: 'The server no longer accepts your key or token. Sign in again.',
      });
    };
    return { api: new Api(auth.credential, expired), principal: auth.principal, signOut };
  }, [auth]);

  if (auth.kind === 'checking') return <div class="splash">Connecting…</div>;
  if (auth.kind === 'unreachable') {
    return (
      <div class="splash">
        <p>The Tasker API did not answer: {auth.message}</p>
        <button class="btn" onClick={() => location.reload()}>
          Try again
        </button>
      </div>
    );
  }
  if (auth.kind === 'signed_out' || !session) {
    return (
      <SignIn
        notice={auth.kind === 'signed_out' ? auth.notice : undefined}
        onSignedIn={(credential, principal) => {
          storeCredential(credential);
          setAuth({ kind: 'signed_in', credential, principal });
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <div class="shell">
        <Nav route={route} />
        <main class="main">
          <Page route={route} />
        </main>
      </div>
    </SessionContext.Provider>
  );
}
