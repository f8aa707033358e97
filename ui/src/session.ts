/** The signed-in session every page reads: the API as the principal, who it is, and how to sign out. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';
import type { WhoAmI } from './api-types.js';

export interface Session {
  api: Api;
  principal: WhoAmI;
  signOut: () => void;
}

export const SessionContext = createContext<Session | undefined>(undefined);

/** The session; pages render only inside a signed-in app, so a missing session is a bug. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in app');
  return session;
}
