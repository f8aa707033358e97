/**
 * A template: its versions, the grid of its recent runs × steps, its DAG, and its definition (steps with
 * handlers, dependencies, retry policy, timeouts and inputs).
 */
import { useMemo } from 'preact/hooks';
import type { TemplateDetailBody } from '../api-types.js';
import { DagView } from '../components/dag-view.js';
import { ErrorNote } from '../components/error-note.js';
import { JsonBlock } from '../components/json-block.js';
import { RunsGridView } from '../components/runs-grid-view.js';
import { layoutDag } from '../dag-layout.js';
import { formatDuration } from '../format.js';
import { useLoad } from '../hooks.js';
import { hasPermission } from '../permissions.js';
import { hrefOf, templateHref } from '../router.js';
import { buildRunsGrid } from '../runs-grid.js';
import { useSession } from '../session.js';
import { groupTemplates } from '../template-groups.js';

function Definition({ template }: { template: TemplateDetailBody }) {
  return (
    <table class="grid-table">
      <thead>
        <tr>
          <th>Step</th>
          <th>Handler</th>
          <th>Type</th>
          <th>Depends on</th>
          <th>Retry</th>
          <th>Timeout</th>
          <th>Inputs</th>
        </tr>
      </thead>
      <tbody>
        {template.steps.map((s) => (
          <tr key={s.name}>
            <td>
              <strong>{s.name}</strong>
              {s.description ? <div class="muted small">{s.description}</div> : null}
            </td>
            <td class="mono">{s.handler}</td>
            <td>{s.type}</td>
            <td>{s.depends_on.join(', ') || <span class="muted">—</span>}</td>
            <td>
              {s.retry.retryable
                ? `${s.retry.max_attempts}× from ${formatDuration(s.retry.backoff_base_ms)} ×${s.retry.backoff_multiplier}`
                : 'no retry'}
            </td>
            <td>{s.timeout_ms === null ? '—' : formatDuration(s.timeout_ms)}</td>
            <td>
              {Object.keys(s.inputs).length > 0 ? (
                <JsonBlock value={s.inputs} />
              ) : (
                <span class="muted">—</span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export interface TemplatePageProps {
  namespace: string;
  name: string;
  version: string | undefined;
}

export function TemplatePage({ namespace, name, version }: TemplatePageProps) {
  const { api, principal } = useSession();
  const template = useLoad(() => api.template(namespace, name, version), [api, namespace, name, version]);
  const all = useLoad(() => api.templates(), [api]);
  const canRuns = hasPermission(principal, 'tasks:read');
  const runs = useLoad(
    () => (canRuns ? api.templateRuns(namespace, name, version, 30) : Promise.resolve(undefined)),
    [api, namespace, name, version, canRuns],
    5000,
  );
  const t = template.data;
  const layout = useMemo(
    () =>
      t ? layoutDag({ nodes: t.dag.nodes.map((n) => ({ id: n, label: n })), edges: t.dag.edges }) : undefined,
    [t],
  );
  const versions =
    groupTemplates(all.data?.items ?? []).find((g) => g[0]?.namespace === namespace && g[0]?.name === name) ??
    [];
  return (
    <section class="page" data-page="template">
      <header class="page-head">
        <div>
          <div class="crumbs">
            <a href="#/templates">Templates</a> / {namespace}
          </div>
          <h1>{name}</h1>
          {t?.description ? <p class="muted">{t.description}</p> : null}
        </div>
        <a class="btn" href={hrefOf({ page: 'tasks', query: { namespace, name } })}>
          Its tasks
        </a>
      </header>
      <div class="tabs" role="tablist" aria-label="Versions">
        {versions.map((v) => (
          <a
            key={v.version}
            role="tab"
            href={templateHref(namespace, name, v.version)}
            class={v.version === t?.version ? 'active' : undefined}
            aria-selected={v.version === t?.version}
          >
            v{v.version}
          </a>
        ))}
      </div>
      <ErrorNote error={template.error} what="load the template" />
      <div class="card">
        <div class="card-head">
          <h2>Recent runs</h2>
          <span class="muted">newest on the right · a cell opens that step of that run</span>
        </div>
        <ErrorNote error={runs.error} what="load the runs" />
        {runs.data ? <RunsGridView grid={buildRunsGrid(runs.data)} /> : null}
      </div>
      {layout ? (
        <div class="card">
          <h2>Graph</h2>
          <DagView layout={layout} label={`Steps of ${namespace}/${name}`} />
        </div>
      ) : null}
      {t ? (
        <div class="card card-flush">
          <h2 class="card-pad">Definition</h2>
          <Definition template={t} />
        </div>
      ) : null}
    </section>
  );
}
