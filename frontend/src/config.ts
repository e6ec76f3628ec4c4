/**
 * Runtime configuration, read from /config.json when the app starts, so that one build serves local, sandbox
 * and prod: the deploy writes the file, never the bundler.
 */

export interface AppConfig {
  /** Base URL of the Tasks API; "" means the same origin (the web server proxies /api). */
  apiUrl: string;
  /** The OIDC issuer (Cognito: https://cognito-idp.<region>.amazonaws.com/<poolId>). */
  authority: string;
  clientId: string;
  /** The hosted UI's base URL (Cognito: https://<prefix>.auth.<region>.amazoncognito.com); serves /logout. */
  hostedUiDomain: string;
  scope: string;
  /** Where the IdP sends the browser back with the code. */
  redirectUri: string;
  /** Where the IdP's /logout sends the browser after signing out. */
  logoutUri: string;
}

export class ConfigError extends Error {}

const DEFAULT_SCOPE = 'openid email profile phone aws.cognito.signin.user.admin';

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function requireUrl(raw: Record<string, unknown>, key: string, allowEmpty = false): string {
  const value = raw[key];
  if (typeof value !== 'string' || (!allowEmpty && value.trim() === '')) {
    throw new ConfigError(`config.json: "${key}" must be ${allowEmpty ? 'a string' : 'a non-empty URL'}`);
  }
  const trimmed = value.trim();
  if (trimmed !== '' && !/^https?:\/\//.test(trimmed)) {
    throw new ConfigError(`config.json: "${key}" must start with http:// or https:// (got "${trimmed}")`);
  }
  return trimSlash(trimmed);
}

/** Validate the raw JSON and fill the defaults that depend on where the app is served. */
export function parseConfig(raw: unknown, origin: string): AppConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('config.json must hold a JSON object');
  }
  const obj = { ...(raw as Record<string, unknown>) };
  // The CDK frontend stack names the issuer `issuer`; `authority` is the oidc-client-ts word for it.
  if (obj.authority === undefined && obj.issuer !== undefined) obj.authority = obj.issuer;
  const authority = requireUrl(obj, 'authority');
  const clientId = obj.clientId;
  if (typeof clientId !== 'string' || !clientId.trim()) {
    throw new ConfigError('config.json: "clientId" must be the web client id');
  }
  const apiUrl = obj.apiUrl === undefined ? '' : requireUrl(obj, 'apiUrl', true);
  // Cognito's hosted UI lives on its own domain; the local IdP serves it next to the issuer.
  const hostedUiDomain =
    obj.hostedUiDomain === undefined || obj.hostedUiDomain === ''
      ? new URL(authority).origin
      : requireUrl(obj, 'hostedUiDomain');
  const base = trimSlash(origin);
  const redirectUri = typeof obj.redirectUri === 'string' && obj.redirectUri ? obj.redirectUri : `${base}/auth/callback`;
  const logoutUri = typeof obj.logoutUri === 'string' && obj.logoutUri ? obj.logoutUri : `${base}/`;
  const scope = typeof obj.scope === 'string' && obj.scope.trim() ? obj.scope.trim() : DEFAULT_SCOPE;
  return { apiUrl, authority, clientId: clientId.trim(), hostedUiDomain, scope, redirectUri, logoutUri };
}

export async function loadConfig(
  fetchImpl: typeof fetch = fetch,
  origin: string = window.location.origin,
): Promise<AppConfig> {
  let response: Response;
  try {
    response = await fetchImpl('/config.json', { cache: 'no-store' });
  } catch (error) {
    throw new ConfigError(`config.json could not be loaded: ${String(error)}`);
  }
  if (!response.ok) throw new ConfigError(`config.json could not be loaded (HTTP ${response.status})`);
  let raw: unknown;
  try {
    raw = await response.json();
  } catch {
    throw new ConfigError('config.json is not valid JSON');
  }
  return parseConfig(raw, origin);
}

/** Cognito's (and the local IdP's) sign-out: {domain}/logout?client_id=...&logout_uri=... */
export function logoutUrl(config: AppConfig): string {
  const params = new URLSearchParams({ client_id: config.clientId, logout_uri: config.logoutUri });
  return `${config.hostedUiDomain}/logout?${params.toString()}`;
}
