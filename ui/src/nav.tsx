/** The left navigation: the pages the principal may read, who is signed in, and sign-out. */
import { isOperator, visiblePages, type PageName } from './permissions.js';
import type { Route } from './router.js';
import { useSession } from './session.js';

const PAGES: Record<PageName, { label: string; href: string; icon: string; matches: Route['page'][] }> = {
  overview: {
    label: 'Overview',
    href: '#/',
    icon: 'M3 13h4v8H3zM10 8h4v13h-4zM17 3h4v18h-4z',
    matches: ['overview'],
  },
  tasks: {
    label: 'Tasks',
    href: '#/tasks',
    icon: 'M4 5h16v2H4zM4 11h16v2H4zM4 17h16v2H4z',
    matches: ['tasks', 'task'],
  },
  templates: {
    label: 'Templates',
    href: '#/templates',
    icon: 'M5 3h6v6H5zM13 15h6v6h-6zM8 9v4h8v2h-2v-1H6v-5z',
    matches: ['templates', 'template'],
  },
  dlq: {
    label: 'Dead letters',
    href: '#/dlq',
    icon: 'M3 5h18v4H3zM5 10h14v9H5zM9 12h6v2H9z',
    matches: ['dlq'],
  },
};

export function Nav({ route }: { route: Route }) {
  const { principal, signOut } = useSession();
  const readOnly = !isOperator(principal);
  return (
    <nav class="nav" aria-label="Main">
      <a class="brand" href="#/">
        <span class="brand-mark" />
        Tasker
      </a>
      <ul>
        {visiblePages(principal).map((name) => {
          const page = PAGES[name];
          const active = page.matches.includes(route.page);
          return (
            <li key={name}>
              <a
                href={page.href}
                class={active ? 'active' : undefined}
                aria-current={active ? 'page' : undefined}
              >
                <svg viewBox="0 0 24 24" class="icon" aria-hidden="true">
                  <path d={page.icon} />
                </svg>
                {page.label}
              </a>
            </li>
          );
        })}
      </ul>
      <div class="whoami" data-principal={principal.name}>
        <div class="whoami-name">{principal.name}</div>
        <div class="whoami-meta">
          {principal.method === 'none' ? 'auth off' : principal.method === 'jwt' ? 'JWT' : 'API key'}
          {readOnly ? <span class="pill">read-only</span> : null}
        </div>
        {principal.method === 'none' ? null : (
          <button type="button" class="btn btn-ghost btn-small" onClick={signOut}>
            Sign out
          </button>
        )}
      </div>
    </nav>
  );
}
