/** Templates: every registered template (one row per name, its versions listed), linking to its page. */
import type { TemplateSummaryBody } from '../api-types.js';
import { ErrorNote } from '../components/error-note.js';
import { formatTime } from '../format.js';
import { useLoad } from '../hooks.js';
import { hrefOf, templateHref } from '../router.js';
import { useSession } from '../session.js';
import { groupTemplates } from '../template-groups.js';

function Row({ versions }: { versions: TemplateSummaryBody[] }) {
  const latest = versions[0] as TemplateSummaryBody;
  return (
    <tr data-template={`${latest.namespace}/${latest.name}`}>
      <td class="muted">{latest.namespace}</td>
      <td>
        <a href={templateHref(latest.namespace, latest.name)}>
          <strong>{latest.name}</strong>
        </a>
        {latest.description ? <div class="muted small">{latest.description}</div> : null}
      </td>
      <td>
        {versions.map((v) => (
          <a key={v.version} class="tag" href={templateHref(v.namespace, v.name, v.version)}>
            {v.version}
          </a>
        ))}
      </td>
      <td class="num">{latest.step_count}</td>
      <td>{latest.identity_strategy}</td>
      <td>{formatTime(latest.created_at)}</td>
      <td>
        <a href={hrefOf({ page: 'tasks', query: { namespace: latest.namespace, name: latest.name } })}>
          tasks →
        </a>
      </td>
    </tr>
  );
}

export function TemplateList() {
  const { api } = useSession();
  const templates = useLoad(() => api.templates(), [api]);
  const groups = groupTemplates(templates.data?.items ?? []);
  return (
    <section class="page" data-page="templates">
      <header class="page-head">
        <h1>Templates</h1>
        <span class="muted">{groups.length} registered</span>
      </header>
      <ErrorNote error={templates.error} what="list templates" />
      <div class="card card-flush">
        <table class="grid-table">
          <thead>
            <tr>
              <th>Namespace</th>
              <th>Template</th>
              <th>Versions</th>
              <th class="num">Steps</th>
              <th>Identity</th>
              <th>Registered</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <Row key={`${g[0]?.namespace}/${g[0]?.name}`} versions={g} />
            ))}
          </tbody>
        </table>
        {groups.length === 0 && !templates.loading ? (
          <p class="empty">No template is registered yet.</p>
        ) : null}
      </div>
    </section>
  );
}
