import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildApp } from './app.ts'
import { loadConfig } from './config.ts'
import { createLambdaHandler } from './lambda-handler.ts'

// Built once per container, during init: every invocation reuses the app, its clients and its compiled schemas.
const config = loadConfig(process.env, 'lambda')
// The bundle ships swagger-ui's files beside itself (scripts/build.mjs).
const bundledDocs = fileURLToPath(new URL('./static', import.meta.url))
const app = await buildApp(config, { docsStaticDir: existsSync(bundledDocs) ? bundledDocs : undefined })

export const handler = await createLambdaHandler(app, config)
