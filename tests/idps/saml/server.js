// samlify 2.13.1 as the test SAML IdP of idmesh's end-to-end suite (docs/real-idps.md §3).
// Listens on 127.0.0.1:PORT. Reads CONFIG_FILE on every request so a test can switch modes and
// users without a restart: {"spMetadataFile", "sign": "assertion|response|both",
// "encrypt": bool, "user": {"email", "attributes": {name: [values]}}}.
//   GET /metadata        the IdP metadata (HTTP-Redirect SSO endpoint, signing certificate)
//   GET /sso             SP-initiated: parses the AuthnRequest, answers an auto-submitting form
//   GET /idp-init        IdP-initiated: an unsolicited response (no InResponseTo)
//   GET /slo             Single Logout (HTTP-Redirect): verifies the SP's signed LogoutRequest
//                        and redirects back with a signed LogoutResponse (Success, or
//                        PartialLogout when the config's "logout" is "partial")
//   GET /idp-logout      IdP-initiated logout: redirects to the SP's SLO URL with a signed
//                        LogoutRequest for the last user signed in (NameID, SessionIndex)
'use strict';
const fs = require('fs');
const http = require('http');
const crypto = require('crypto');
const samlify = require('samlify');
samlify.setSchemaValidator(require('@authenio/samlify-node-xmllint'));

const PORT = Number(process.env.PORT);
const BASE = `http://127.0.0.1:${PORT}`;
const KEY = fs.readFileSync(process.env.IDP_KEY_FILE, 'utf8');
const CERT = fs.readFileSync(process.env.IDP_CERT_FILE, 'utf8');
const CONFIG_FILE = process.env.CONFIG_FILE;
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

function config() {
  return JSON.parse(fs.readFileSync(CONFIG_FILE, 'utf8'));
}

function idp(encrypt) {
  return samlify.IdentityProvider({
    entityID: `${BASE}/metadata`,
    privateKey: KEY,
    signingCert: CERT,
    isAssertionEncrypted: encrypt,
    dataEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
    keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    nameIDFormat: [EMAIL_FORMAT],
    singleSignOnService: [{
      Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${BASE}/sso`,
    }],
    singleLogoutService: [{
      Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${BASE}/slo`,
    }],
    wantAuthnRequestsSigned: false,
    // The SP's LogoutRequest must carry a valid redirect-binding signature.
    wantLogoutRequestSigned: true,
  });
}

function sp(cfg) {
  // samlify signs the assertion when the SP metadata wants signed assertions, the response
  // when the ServiceProvider has wantMessageSigned.
  let metadata = fs.readFileSync(cfg.spMetadataFile, 'utf8');
  const signAssertion = cfg.sign !== 'response';
  metadata = metadata.replace(/WantAssertionsSigned="(true|false)"/,
    `WantAssertionsSigned="${signAssertion}"`);
  // wantLogout*Signed: the IdP signs the logout messages it sends this SP.
  return samlify.ServiceProvider({
    metadata, wantMessageSigned: cfg.sign === 'response' || cfg.sign === 'both',
    wantLogoutRequestSigned: true, wantLogoutResponseSigned: true,
  });
}

function esc(value) {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function isoNow(offsetSeconds) {
  return new Date(Date.now() + offsetSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function replacement(identityProvider, serviceProvider, cfg, inResponseTo) {
  return (template) => {
    const id = '_' + crypto.randomBytes(16).toString('hex');
    const acs = serviceProvider.entityMeta.getAssertionConsumerService('post');
    const attributes = Object.entries(cfg.user.attributes || {}).map(([name, values]) =>
      `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">`
      + values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')
      + '</saml:Attribute>').join('');
    const statements = `<saml:AuthnStatement AuthnInstant="${isoNow(0)}" SessionIndex="${id}">`
      + '<saml:AuthnContext><saml:AuthnContextClassRef>'
      + 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'
      + '</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
      + (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '');
    const withStatements = template.replace('{AuthnStatement}', statements)
      .replace('{AttributeStatement}', '');
    const context = samlify.SamlLib.replaceTagsByValue(withStatements, {
      ID: id,
      AssertionID: '_' + crypto.randomBytes(16).toString('hex'),
      Destination: acs,
      Audience: serviceProvider.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      NameIDFormat: EMAIL_FORMAT,
      NameID: cfg.user.email,
      Issuer: identityProvider.entityMeta.getEntityID(),
      IssueInstant: isoNow(0),
      ConditionsNotBefore: isoNow(-30),
      ConditionsNotOnOrAfter: isoNow(300),
      SubjectConfirmationDataNotOnOrAfter: isoNow(300),
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      InResponseTo: inResponseTo,
    });
    lastSession = { email: cfg.user.email, sessionIndex: id };
    return { id, context };
  };
}

// The last sign-in, for an IdP-initiated logout of it.
let lastSession = null;
const PARTIAL_LOGOUT_RESPONSE = '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'
  + ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0"'
  + ' IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}">'
  + '<saml:Issuer>{Issuer}</saml:Issuer><samlp:Status>'
  + '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success">'
  + '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:PartialLogout"/>'
  + '</samlp:StatusCode></samlp:Status></samlp:LogoutResponse>';

function partialLogout(identityProvider, serviceProvider, requestId) {
  return (template) => {
    const id = '_' + crypto.randomBytes(16).toString('hex');
    const context = samlify.SamlLib.replaceTagsByValue(PARTIAL_LOGOUT_RESPONSE, {
      ID: id,
      IssueInstant: isoNow(0),
      Destination: serviceProvider.entityMeta.getSingleLogoutService('redirect'),
      InResponseTo: requestId,
      Issuer: identityProvider.entityMeta.getEntityID(),
    });
    return { id, context };
  };
}

async function respond(res, cfg, requestInfo, relayState) {
  const identityProvider = idp(Boolean(cfg.encrypt));
  const serviceProvider = sp(cfg);
  const inResponseTo = requestInfo ? requestInfo.extract.request.id : undefined;
  const { context, entityEndpoint } = await identityProvider.createLoginResponse(
    serviceProvider, requestInfo || {}, 'post', { email: cfg.user.email },
    replacement(identityProvider, serviceProvider, cfg, inResponseTo));
  const relay = relayState ? `<input type="hidden" name="RelayState" value="${esc(relayState)}">` : '';
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><body onload="document.forms[0].submit()">
<form method="post" action="${esc(entityEndpoint)}">
<input type="hidden" name="SAMLResponse" value="${esc(context)}">${relay}
<noscript><button type="submit">Continue</button></noscript></form></body></html>`);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, BASE);
    const cfg = config();
    if (url.pathname === '/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      res.end(idp(false).getMetadata());
    } else if (url.pathname === '/sso') {
      const octetString = req.url.split('?')[1] || '';
      const query = Object.fromEntries(url.searchParams);
      const info = await idp(Boolean(cfg.encrypt)).parseLoginRequest(sp(cfg), 'redirect',
        { query, octetString });
      await respond(res, cfg, info, query.RelayState);
    } else if (url.pathname === '/idp-init') {
      await respond(res, cfg, null, url.searchParams.get('RelayState'));
    } else if (url.pathname === '/slo') {
      // Bindings 3.4.4.1: the signature covers the query as sent, without the Signature itself.
      const octetString = (req.url.split('?')[1] || '').split('&')
        .filter((part) => !part.startsWith('Signature=')).join('&');
      const query = Object.fromEntries(url.searchParams);
      const identityProvider = idp(false);
      const serviceProvider = sp(cfg);
      const info = await identityProvider.parseLogoutRequest(serviceProvider, 'redirect',
        { query, octetString });
      const custom = cfg.logout === 'partial'
        ? partialLogout(identityProvider, serviceProvider, info.extract.request.id) : undefined;
      const { context } = identityProvider.createLogoutResponse(serviceProvider, info,
        'redirect', query.RelayState, custom);
      res.writeHead(302, { location: context });
      res.end();
    } else if (url.pathname === '/idp-logout') {
      const { context } = idp(false).createLogoutRequest(sp(cfg), 'redirect',
        { logoutNameID: lastSession.email, sessionIndex: lastSession.sessionIndex },
        url.searchParams.get('RelayState') || '');
      res.writeHead(302, { location: context });
      res.end();
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  } catch (error) {
    process.stderr.write(`samlify idp: ${error && error.stack || error}\n`);
    res.writeHead(500);
    res.end('idp error');
  }
});
server.listen(PORT, '127.0.0.1', () => process.stdout.write(`listening ${BASE}\n`));
