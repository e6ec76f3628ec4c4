// amazon-cognito-identity-js against the local IdP, as a browser app or Amplify uses it.
// Input: one JSON object on stdin {endpoint, poolId, clientId, username, password, totpCode, wrongPassword}.
// Output: one JSON object per step on stdout; the Python test (tests/idp/test_js_client.py) checks them.
import readline from "node:readline";
import cognito from "amazon-cognito-identity-js";

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;

async function readInput() {
  const lines = [];
  for await (const line of readline.createInterface({ input: process.stdin })) lines.push(line);
  return JSON.parse(lines.join("\n"));
}

function report(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

function signIn(user, username, password, totpCode) {
  return new Promise((resolve, reject) => {
    const callbacks = {
      onSuccess: (session) => resolve(session),
      onFailure: (err) => reject(err),
      mfaSetup: () => reject(new Error("unexpected MFA_SETUP")),
      totpRequired: (challengeName) => {
        report("totpRequired", { challengeName });
        user.sendMFACode(totpCode, callbacks, "SOFTWARE_TOKEN_MFA");
      },
    };
    // The library's default flow: USER_SRP_AUTH (PASSWORD_VERIFIER answered with an SRP proof).
    user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), callbacks);
  });
}

function refresh(user, session) {
  return new Promise((resolve, reject) => {
    user.refreshSession(session.getRefreshToken(), (err, fresh) => (err ? reject(err) : resolve(fresh)));
  });
}

const input = await readInput();
const pool = new CognitoUserPool({
  UserPoolId: input.poolId,
  ClientId: input.clientId,
  endpoint: input.endpoint,
});
const user = new CognitoUser({ Username: input.username, Pool: pool });
try {
  const session = await signIn(user, input.username, input.password, input.totpCode);
  report("signedIn", {
    flow: user.authenticationFlowType,
    idToken: session.getIdToken().getJwtToken(),
    accessToken: session.getAccessToken().getJwtToken(),
    refreshToken: session.getRefreshToken().getToken(),
  });
  const fresh = await refresh(user, session);
  report("refreshed", { accessToken: fresh.getAccessToken().getJwtToken() });
} catch (err) {
  report("failed", { code: err.code, message: err.message });
}

const stranger = new CognitoUser({ Username: input.username, Pool: pool });
try {
  await signIn(stranger, input.username, input.wrongPassword, input.totpCode);
  report("wrongPasswordAccepted");
} catch (err) {
  report("wrongPasswordRefused", { code: err.code, message: err.message });
}
