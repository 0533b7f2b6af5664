// Ory Polis (npm @boxyhq/saml-jackson) as a SAML service provider on 127.0.0.1, for `make bench`
// to compare its SAML login with idmesh's under the same signed responses.
//
// Polis is a library; its own Next.js app only wraps these controllers in HTTP routes, so this
// file does the same with node:http and nothing else: an in-memory store (engine "mem"), no
// analytics, no UI. Routes:
//   POST /setup                 {metadata}: creates the SAML connection (tenant/product "bench")
//   GET  /api/oauth/authorize   OAuth authorize (PKCE): 302 to the IdP with a SAMLRequest
//   POST /api/oauth/saml        the ACS: validates the SAMLResponse, 302 to the app with a code
//   POST /api/oauth/token       code + code_verifier -> access token (the app's last step)
// Environment: PORT. Prints "listening" when ready.
import http from 'node:http';
import jackson from '@boxyhq/saml-jackson';

const port = Number(process.env.PORT);
const externalUrl = `http://127.0.0.1:${port}`;
const APP = 'http://127.0.0.1:9/app';

const polis = await (jackson.controllers ?? jackson.default ?? jackson)({
  externalUrl,
  samlPath: '/api/oauth/saml',
  samlAudience: 'https://saml.boxyhq.com',
  db: { engine: 'mem' },
  noAnalytics: true,
  clientSecretVerifier: 'bench-dummy',
  openid: {},
  logger: { info: () => {}, warn: () => {}, error: () => {} },
});

function read(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response, status, body, headers = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function redirect(response, location) {
  response.writeHead(302, { location });
  response.end();
}

async function handle(request, response) {
  const url = new URL(request.url, externalUrl);
  if (request.method === 'POST' && url.pathname === '/setup') {
    const { metadata } = JSON.parse(await read(request));
    const connection = await polis.connectionAPIController.createSAMLConnection({
      rawMetadata: metadata,
      defaultRedirectUrl: APP,
      redirectUrl: JSON.stringify([`${APP}*`]),
      tenant: 'bench',
      product: 'bench',
    });
    return send(response, 200, { client_id: connection.clientID, acs_url: `${externalUrl}/api/oauth/saml` });
  }
  if (request.method === 'GET' && url.pathname === '/api/oauth/authorize') {
    const result = await polis.oauthController.authorize(Object.fromEntries(url.searchParams));
    if (result.redirect_url) return redirect(response, result.redirect_url);
    return send(response, 400, { error: result.error ?? 'no redirect', form: !!result.authorize_form });
  }
  if (request.method === 'POST' && url.pathname === '/api/oauth/saml') {
    const body = Object.fromEntries(new URLSearchParams(await read(request)));
    const result = await polis.oauthController.samlResponse(body);
    if (result.redirect_url) return redirect(response, result.redirect_url);
    return send(response, 400, { error: result.error ?? 'no redirect' });
  }
  if (request.method === 'POST' && url.pathname === '/api/oauth/token') {
    const body = Object.fromEntries(new URLSearchParams(await read(request)));
    return send(response, 200, await polis.oauthController.token(body));
  }
  return send(response, 404, { error: 'not found' });
}

http
  .createServer((request, response) => {
    handle(request, response).catch((error) => {
      send(response, error.statusCode ?? 500, { error: String(error.message ?? error) });
    });
  })
  .listen(port, '127.0.0.1', () => console.log('listening'));
