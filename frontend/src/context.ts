/** What every page can reach: configuration, the signed-in user, the API, and a one-shot notice. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { User } from 'oidc-client-ts';
import type { TasksApi } from './api/client';
import type { Auth } from './auth/auth';
import type { AppConfig } from './config';

export interface Notice {
  text: string;
  path: string;
}

export interface AppServices {
  config: AppConfig;
  auth: Auth;
  api: TasksApi;
  user: User | null;
  /** A message for one page ("Task saved" on the task's page), announced politely. */
  notice: Notice | null;
  setNotice: (message: string, forPath: string) => void;
}

export const AppContext = createContext<AppServices | null>(null);

export function useApp(): AppServices {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside of <AppContext.Provider>');
  return value;
}
