import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'

/**
 * Helmet with an API profile: JSON responses may not be framed, run scripts or
 * load anything. The docs UI sets its own, looser policy on its routes.
 */
export default fp(async (app) => {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
    },
    // Browsers on the allowed origins read these responses through CORS.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: { maxAge: 31_536_000, includeSubDomains: true }
  })
}, { name: 'security-headers' })
