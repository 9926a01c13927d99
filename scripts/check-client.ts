/**
 * `npm run check:client`: the OpenAPI document as a client generator reads it. Starts the app on the embedded stack,
 * generates types from the /docs/json it serves with openapi-typescript, type-checks the client program in
 * scripts/client-check/ against them and runs it, through openapi-fetch, against the app.
 *
 * Prints `ok - …` / `not ok - …` per check and `N passed, N failed`; exits 1 on any failure.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import { buildApp } from '../src/app.ts'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { loadConfig } from '../src/config/config.ts'
import { createMissingStorage } from '../src/local/bootstrap.ts'
import { startEmbeddedStack } from '../src/local/embedded-stack.ts'
import { checklist } from './lib/processes.mjs'

type CallEveryRouteGroup = (
  baseUrl: string,
  apiKey: string,
  check: (ok: boolean, name: string, detail?: unknown) => boolean
) => Promise<void>

const here = join(dirname(fileURLToPath(import.meta.url)), 'client-check')
const list = checklist()
const stack = await startEmbeddedStack()
const { key, entry } = generateApiKey('client-check', ['*'])
const config = loadConfig({
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  LOG_FORMAT: 'json',
  AWS_ENDPOINT_URL_DYNAMODB: stack.dynamodbEndpoint,
  AWS_ENDPOINT_URL_S3: stack.s3Endpoint,
  API_KEYS: JSON.stringify([entry])
})
const app = await buildApp(config)
try {
  await createMissingStorage(config)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  const document = (await (await fetch(`${baseUrl}/docs/json`)).json()) as Parameters<typeof openapiTS>[0]
  await writeFile(join(here, 'api.d.ts'), astToString(await openapiTS(document)))
  list.check(true, 'openapi-typescript generates types from /docs/json')

  const typecheck = await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', here], {
    cwd: join(here, '../..')
  }).then(
    () => '',
    (err: { stdout?: string; message: string }) => err.stdout || err.message
  )
  if (list.check(typecheck === '', 'the client program type-checks against them', typecheck)) {
    // Not a literal import: the program is type-checked above, on its own, against the generated types, which the
    // repository's typecheck does not have.
    const program = './client-check/program.ts'
    const { callEveryRouteGroup } = (await import(program)) as { callEveryRouteGroup: CallEveryRouteGroup }
    await callEveryRouteGroup(baseUrl, key, (ok, name, detail) =>
      list.check(ok, name, detail === undefined ? undefined : JSON.stringify(detail))
    )
  }
} catch (err) {
  list.check(false, 'the client check ran to the end', err instanceof Error ? err.stack : err)
} finally {
  await app.close()
  await stack.close()
}
console.log(list.summary())
if (list.failed > 0) process.exitCode = 1
