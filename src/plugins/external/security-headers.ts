import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet from 'helmet'

/**
 * Helmet with an API profile: JSON responses may not be framed, run scripts or
 * load anything. The docs UI sets its own, looser policy on its routes.
 */
const HELMET_OPTIONS = {
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
 * The headers the plugin puts on every API response, for the answers Fastify
 * and Node give before any hook runs (a malformed URL, a broken request).
 * Helmet computes them, so both stay one policy.
 */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader: (name: string, value: string) => {
      headers[name.toLowerCase()] = value
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()]
    }
  }
  helmet(HELMET_OPTIONS)({} as IncomingMessage, res as unknown as ServerResponse, () => {})
  return headers
}

/**
 * The same headers on every response, computed once (securityHeaders()). @fastify/helmet would run
 * helmet's middleware factory again on every request (parsing the options,
 * rebuilding the policy strings) to set headers that never change here.
 */
export default fp<{ headers: Record<string, string> }>(
  async (app, { headers }) => {
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers)
      done()
    })
  },
  { name: 'security-headers' }
)
