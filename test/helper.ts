import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import tap from 'tap'
import { buildApp, type BuildOptions } from '../src/app.ts'
import { toErrorResponse } from '../src/plugins/app/errors.ts'
import { createAwsClients, destroyAwsClients, type AwsClients } from '../src/aws/clients.ts'
import { loadConfig, type Config } from '../src/config/config.ts'
import { createMissingStorage } from '../src/local/bootstrap.ts'
import { precompiledCompilers, type SchemaCompilers } from '../src/http/schema-compilers.ts'
import { startEmbeddedStack } from '../src/local/embedded-stack.ts'
import { buckets, tables } from '../src/core/tables.ts'
import { collectSchemas, generateModule, loadModule } from '../scripts/precompile-schemas.ts'
export { datasetBody } from '../scripts/lib/datasets.ts'

interface Engine {
  dynamodb: string
  s3: string
}

let engine: Promise<Engine> | undefined

/**
 * The storage engine for this test process: the endpoints in
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3 when set (the emulator pass),
 * otherwise an embedded stack started once and stopped when the file's tests end.
 */
export async function testEngine(): Promise<Engine> {
  engine ??= (async () => {
    const dynamodb = process.env.AWS_ENDPOINT_URL_DYNAMODB
    const s3 = process.env.AWS_ENDPOINT_URL_S3
    if (dynamodb && s3) return { dynamodb, s3 }
    const stack = await startEmbeddedStack()
    tap.teardown(() => stack.close())
    return { dynamodb: stack.dynamodbEndpoint, s3: stack.s3Endpoint }
  })()
  return await engine
}

/** A config on the test engine with tables and buckets of its own, so tests never see each other's data. */
export async function testConfig(env: NodeJS.ProcessEnv = {}): Promise<Config> {
  const { dynamodb, s3 } = await testEngine()
  const suffix = randomUUID().slice(0, 8)
  const names: NodeJS.ProcessEnv = {}
  for (const def of Object.values(tables)) names[def.envVar] = `test-${def.defaultName}-${suffix}`
  for (const def of Object.values(buckets)) names[def.envVar] = `test-${def.defaultName}-${suffix}`
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb,
    AWS_ENDPOINT_URL_S3: s3,
    ...names,
    ...env
  })
  await createMissingStorage(config)
  return config
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  clients: AwsClients
}

/** What the helpers need of a tap test: every test file passes its `t`. */
export type TestTap = { teardown: (fn: () => unknown) => void }

/** A fresh app on fresh tables, closed when the test ends. `clients` reach the same tables and buckets. */
export async function buildTestApp(
  t: TestTap,
  options: BuildOptions & { env?: NodeJS.ProcessEnv } = {}
): Promise<TestApp> {
  const { env, ...buildOptions } = options
  const config = await testConfig(env)
  const app = await buildApp(config, buildOptions)
  const clients = createAwsClients(config)
  t.teardown(async () => {
    await app.close()
    destroyAwsClients(clients)
  })
  return { app, config, clients }
}

let precompiled: Promise<SchemaCompilers> | undefined

/**
 * The compilers the Lambda bundle uses: validators and serializers generated
 * from the routes' schemas as `npm run build` generates them (in memory, once
 * per test process), for tests that check validation through the code that
 * is deployed.
 */
export async function precompiledSchemaCompilers(): Promise<SchemaCompilers> {
  precompiled ??= (async () => {
    const { app, schemas } = await collectSchemas()
    await app.close()
    return precompiledCompilers(loadModule(generateModule(schemas)))
  })()
  return await precompiled
}

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** How an error thrown below the routes is answered over HTTP: what plugins/app/errors.ts makes of it. */
export async function answerOf(
  promise: Promise<unknown>
): Promise<{ statusCode: number; code: string; headers: Record<string, string> }> {
  try {
    await promise
  } catch (err) {
    const { body, headers } = toErrorResponse(err)
    return { statusCode: body.statusCode, code: body.code, headers }
  }
  throw new Error('expected the promise to reject')
}

type Headers = Record<string, string>

/** Requests to `app` as the holder of `key` (or anonymous): a JSON body goes as JSON, extra headers on top. */
export function injectAs(app: FastifyInstance, key?: string) {
  const credential: Headers = key === undefined ? {} : { 'x-api-key': key }
  const send = async (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
    headers: Headers = {}
  ): Promise<LightMyRequestResponse> =>
    await app.inject({
      method,
      url,
      headers: { ...credential, ...headers },
      ...(payload === undefined ? {} : { payload: payload as object })
    })
  return {
    get: (url: string, headers?: Headers) => send('GET', url, undefined, headers),
    post: (url: string, payload?: unknown, headers?: Headers) => send('POST', url, payload, headers),
    put: (url: string, payload?: unknown, headers?: Headers) => send('PUT', url, payload, headers),
    patch: (url: string, payload?: unknown, headers?: Headers) => send('PATCH', url, payload, headers),
    delete: (url: string, headers?: Headers) => send('DELETE', url, undefined, headers)
  }
}

/** The error codes the README's Errors section lists: the only ones a client may see. */
export function documentedErrorCodes(): Set<string> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('### Errors')
  const section = readme.slice(start, readme.indexOf('\n## ', start))
  return new Set([...section.matchAll(/`([A-Z][A-Z_]+)`/g)].map(match => match[1]!))
}
