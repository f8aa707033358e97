/**
 * The confirmation of an operator action: says exactly what will happen, asks why (the reason goes to the audit
 * trail), and stays open with the server's message when the action is refused, so nothing typed is lost.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { ErrorNote } from './error-note.js';

export interface ConfirmDialogProps {
  title: string;
  /** What the action does, in full. */
  children: ComponentChildren;
  confirmLabel: string;
  /** Destructive actions get a red button. */
  danger?: boolean;
  /** Disables the confirm button (e.g. while the affected tasks are being counted). */
  disabled?: boolean;
  /** Runs the action with the reason; a rejection keeps the dialog open and shows the error. */
  onConfirm: (reason: string) => Promise<void>;
  onClose: () => void;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => reasonRef.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !busy) props.onClose();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [busy, props]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (reason.trim() === '') {
      setError(new ApiError(0, 'REASON_REQUIRED', 'say why: the reason is recorded in the audit trail'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm(reason.trim());
      props.onClose();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', (err as Error).message));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div
      class="overlay"
      role="dialog"
      aria-label={props.title}
      onClick={(e) => e.target === e.currentTarget && !busy && props.onClose()}
    >
      <form class="dialog" aria-modal="true" aria-label={props.title} onSubmit={(e) => void submit(e)}>
        <h2>{props.title}</h2>
        <div class="dialog-body">{props.children}</div>
        <label class="field">
          <span>Reason (recorded in the audit trail)</span>
          <textarea
            ref={reasonRef}
            name="reason"
            rows={2}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
            placeholder="Why are you doing this?"
          />
        </label>
        <ErrorNote error={error} what="do it" />
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={props.onClose} disabled={busy}>
            Keep as is
          </button>
          <button
            type="submit"
            class={props.danger ? 'btn btn-danger' : 'btn btn-primary'}
            disabled={busy || props.disabled}
          >
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </form>
    </div>
  );
}
