/** A state as a coloured pill (tasks and steps alike) and a bare colour dot. */
import { stateLabel, toneOf } from '../states.js';

export function StateBadge({ state }: { state: string }) {
  return (
    <span class={`badge tone-${toneOf(state)}`} data-state={state}>
      <span class="dot" />
      {stateLabel(state)}
    </span>
  );
}

export function StateDot({ state }: { state: string }) {
  return <span class={`dot tone-${toneOf(state)}`} title={stateLabel(state)} />;
}
