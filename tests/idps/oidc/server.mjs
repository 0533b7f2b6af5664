// The OpenID-certified oidc-provider (panva, pinned in package.json) as idmesh's test IdP.
// docs/real-idps.md §2. Started by tests/e2e/oidc (and the bench) on 127.0.0.1 only.
//
// Environment:
//   PORT        the port to listen on (127.0.0.1 only)
//   KEYS_FILE   private signing JWKs {"keys": [k1, k2]}; made (RS256, kids k1 and k2) when absent
//   PUBLISH     "all" (default) or "first": publish only the signing key (for rotation tests)
//   ROTATE      "1": sign with k2 instead of k1
//   USERS_FILE  {"<login>": {claims...}}, read at every login so tests can change claims
//               between logins; a login missing from it gets default claims. "userinfo_only":
//               [claim names] keeps those out of the ID token: only the userinfo endpoint
//               answers them (OIDC Core §5.3), as Okta does with custom attributes
//   CLIENTS_FILE static clients [{client_id, client_secret, redirect_uris, ...}]: the clients
//               registered before a restart (the in-memory adapter forgets them)
//
// Clients register themselves (RFC 7591, open registration: a test IdP) and update their
// exact redirect URI, post-logout redirect URI and back-channel logout URI once idmesh has
// named the connection (RFC 7592).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { Provider } from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

const PORT = Number(process.env.PORT || 9090);
const ISSUER = `http://127.0.0.1:${PORT}`;
const KEYS_FILE = process.env.KEYS_FILE;
const USERS_FILE = process.env.USERS_FILE;
const CLIENTS_FILE = process.env.CLIENTS_FILE;

async function signingKeys() {
  if (KEYS_FILE && existsSync(KEYS_FILE)) {
    return JSON.parse(readFileSync(KEYS_FILE, 'utf8')).keys;
  }
  const keys = [];
  for (const kid of ['k1', 'k2']) {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    keys.push({ ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' });
  }
  if (KEYS_FILE) writeFileSync(KEYS_FILE, JSON.stringify({ keys }));
  return keys;
}

function usersTable() {
  if (!USERS_FILE || !existsSync(USERS_FILE)) return {};
  return JSON.parse(readFileSync(USERS_FILE, 'utf8'));
}

let keys = await signingKeys();
if (process.env.ROTATE === '1') keys = [...keys].reverse();
if (process.env.PUBLISH === 'first') keys = keys.slice(0, 1);

const clients = CLIENTS_FILE && existsSync(CLIENTS_FILE)
  ? JSON.parse(readFileSync(CLIENTS_FILE, 'utf8'))
  : [];

const configuration = {
  clients,
  jwks: { keys },
  // Scope claims go into the ID token, as Entra's and Okta's group claims do.
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
    groups: ['groups'],
    torque: ['space_name', 'space_role', 'timezone'],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'torque', 'offline_access'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true, initialAccessToken: false },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
    rpInitiatedLogout: { enabled: true },
    // Posts a logout token to each client's backchannel_logout_uri when a session ends here
    // (OpenID Connect Back-Channel Logout 1.0); idmesh listens on 127.0.0.1.
    backchannelLogout: { enabled: true },
  },
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  },
  cookies: { keys: ['idmesh-test-idp-cookie-key'] },
  // oidc-provider refuses outgoing requests to special-use addresses (its SSRF guard, a
  // dispatcher it passes in): this test IdP must post logout tokens to idmesh on 127.0.0.1.
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
  ttl: { IdToken: 300, AccessToken: 300, Session: 3600, Interaction: 600, Grant: 3600 },
  async findAccount(ctx, id) {
    const login = String(id);
    return {
      accountId: login,
      async claims(use) {
        const { userinfo_only = [], ...configured } = usersTable()[login] || {};
        const email = login.includes('@') ? login : `${login}@acme.test`;
        const claims = {
          sub: login,
          email,
          email_verified: true,
          name: login,
          ...configured,
        };
        if (use === 'id_token') for (const name of userinfo_only) delete claims[name];
        return claims;
      },
    };
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;
provider.on('backchannel.success', (ctx, client) => console.log(`backchannel logout posted to ${client.clientId}`));
provider.on('backchannel.error', (ctx, err, client) => console.log(`backchannel logout to ${client.clientId} failed: ${err.message}`));
provider.listen(PORT, '127.0.0.1');
console.log(`oidc-provider listening on ${ISSUER}`);
