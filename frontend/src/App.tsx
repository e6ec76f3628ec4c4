import type { User } from 'oidc-client-ts';
import { ErrorBoundary, LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { TasksApi } from './api/client';
import type { Auth } from './auth/auth';
import { Header } from './components/Header';
import { RequireAuth } from './components/RequireAuth';
import type { AppConfig } from './config';
import { AppContext, type AppServices, type Notice, useApp } from './context';
import { Home } from './pages/Home';
import { NotFound } from './pages/NotFound';
import { TaskDetails } from './pages/TaskDetails';
import { TaskEdit } from './pages/TaskEdit';
import { TaskList } from './pages/TaskList';

interface Props {
  config: AppConfig;
  auth: Auth;
  initialUser: User | null;
}

export function App({ config, auth, initialUser }: Props) {
  const [user, setUser] = useState<User | null>(initialUser);
  const [notice, setNoticeState] = useState<Notice | null>(null);
  const setNotice = (text: string, path: string) => setNoticeState({ text, path });
  useEffect(() => auth.onChange(setUser), [auth]);
  const api = useMemo(() => new TasksApi(config.apiUrl, () => auth.accessToken()), [config, auth]);
  const services: AppServices = { config, auth, api, user, notice, setNotice };

  return (
    <AppContext.Provider value={services}>
      <LocationProvider>
        <Header />
        <main id="main">
          <NoticeRegion />
          <ErrorBoundary>
            <Router onRouteChange={(url) => setNoticeState((n) => (n && samePath(n.path, url) ? n : null))}>
              <Route path="/" component={Home} />
              <Route path="/home" component={Home} />
              <Route path="/tasks" component={Protected(TaskList)} />
              <Route path="/tasks/new" component={Protected(TaskEdit)} />
              <Route path="/tasks/:id" component={Protected(TaskDetails)} />
              <Route path="/tasks/:id/edit" component={Protected(TaskEdit)} />
              <Route default component={NotFound} />
            </Router>
          </ErrorBoundary>
        </main>
      </LocationProvider>
    </AppContext.Provider>
  );
}

/** The one-shot message left by the previous page ("Task created"), read out politely. */
function NoticeRegion() {
  const { notice } = useApp();
  const { path } = useLocation();
  const text = notice && samePath(notice.path, path) ? notice.text : '';
  return (
    <div class="notice-region" role="status" aria-live="polite">
      {text && <p class="notice">{text}</p>}
    </div>
  );
}

function samePath(a: string, b: string): boolean {
  const clean = (url: string) => url.split(/[?#]/)[0].replace(/\/+$/, '') || '/';
  return clean(a) === clean(b);
}

const protectedCache = new Map<unknown, unknown>();

// Route components are wrapped once (a stable identity keeps pages from remounting on every render).
function Protected<P extends object>(Page: (props: P) => preact.JSX.Element): (props: P) => preact.JSX.Element {
  const cached = protectedCache.get(Page);
  if (cached) return cached as (props: P) => preact.JSX.Element;
  const Wrapped = (props: P) => (
    <RequireAuth>
      <Page {...props} />
    </RequireAuth>
  );
  protectedCache.set(Page, Wrapped);
  return Wrapped;
}
