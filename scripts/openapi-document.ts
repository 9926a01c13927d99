/**
 * Prints the OpenAPI document the app serves at /docs/json, built from the routes' schemas without any storage:
 * `scripts/build.mjs` writes it to dist/openapi.json for people who generate clients without running the server.
 *
 *   tsx scripts/openapi-document.ts > openapi.json
 */
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/config.ts'

const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' }))
await app.ready()
process.stdout.write(JSON.stringify(app.swagger(), null, 2) + '\n')
await app.close()
