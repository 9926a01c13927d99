import fp from 'fastify-plugin'

/**
 * Helmet's options for an API profile: JSON responses may not be framed, run
 * scripts or load anything. The docs UI sets its own, looser policy on its routes.
 */
export const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
  },
  // Browsers on the allowed origins read these responses through CORS.
  crossOriginResourcePolicy: { policy: 'cross-origin' },
  referrerPolicy: { policy: 'no-referrer' },
  hsts: { maxAge: 31_536_000, includeSubDomains: true }
} as const

/**
 * The headers helmet sets with HELMET_OPTIONS, written out: they never change
 * between requests, so neither the app nor a cold start needs helmet to
 * compute them (that took about a millisecond, with loading it).
 * test/security-headers.test.ts checks they are what helmet sets, so a helmet
 * release that changes its policy fails there. They go on every API response,
 * and on the answers Fastify and Node give before any hook runs (a malformed
 * URL, a broken request).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'cross-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0'
})

/** The same headers on every response, set by one hook (@fastify/helmet would rebuild them on every request). */
export default fp(
  async app => {
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(SECURITY_HEADERS)
      done()
    })
  },
  { name: 'security-headers' }
)
