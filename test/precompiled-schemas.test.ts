/**
 * The code the build generates from the routes' schemas (scripts/precompile-schemas.ts)
 * against what the app compiles at start-up: the same decisions on the same
 * input, for every schema of every route; and an app whose schemas changed
 * after the build refuses to start. test/fuzz.test.ts and test/bad-input.test.ts
 * run the whole app on the generated code.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import fastJsonStringify from 'fast-json-stringify'
import type { FastifyPluginAsync } from 'fastify'
import t from 'tap'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/config.ts'
import { precompiledCompilers, withInputRules, type PrecompiledSchemas } from '../src/http/schema-compilers.ts'
import { validatorCompiler } from '../src/http/validation.ts'
import {
  collectSchemas,
  generateModule,
  loadModule,
  PRECOMPILED_CODE_PATH,
  PRECOMPILED_PATH,
  type CollectedSchemas,
  GENERATING_NODE_MAJOR,
  generatingNodeMajor
} from '../scripts/precompile-schemas.ts'
import { prng } from './helper.ts'

type Schema = Record<string, unknown>

const { app, schemas } = await collectSchemas()
await app.close()
const generated = generateModule(schemas)
const precompiled = loadModule(generated)

const HOSTILE: unknown[] = [
  undefined,
  null,
  '',
  ' ',
  '0',
  '-1',
  '1.5',
  '1e308',
  'true',
  'null',
  'x'.repeat(300),
  '\ud83d',
  '../etc/passwd',
  0,
  -1,
  1.5,
  2 ** 53,
  1e308,
  true,
  false,
  [],
  ['a', 'b'],
  {},
  { nested: { deep: [1] } }
]

/**
 * A value for a schema: mostly drawn from what the schema itself names (enums,
 * consts, examples, defaults, lengths and bounds either side of its limits,
 * its properties and items), sometimes hostile, sometimes as text (query
 * strings and params arrive as text and are coerced).
 */
function sample(schema: Schema | undefined, random: () => number, depth = 0): unknown {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!
  if (schema === undefined || random() < 0.12 || depth > 6) return pick(HOSTILE)
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (branches) return sample(pick(branches), random, depth + 1)
  const named = [
    ...((schema.enum as unknown[] | undefined) ?? []),
    ...('const' in schema ? [schema.const] : []),
    ...((schema.examples as unknown[] | undefined) ?? []),
    ...('default' in schema ? [schema.default] : [])
  ]
  if (named.length > 0 && random() < 0.5) return pick(named)
  const type = Array.isArray(schema.type) ? pick(schema.type as string[]) : schema.type
  const n = (key: string) => (typeof schema[key] === 'number' ? (schema[key] as number) : undefined)
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const [name, sub] of Object.entries((schema.properties as Record<string, Schema>) ?? {})) {
        if (random() < 0.15) continue
        const value = sample(sub, random, depth + 1)
        if (value !== undefined) out[name] = value
      }
      if (random() < 0.1) out.unexpected = pick(HOSTILE)
      return out
    }
    case 'array':
      return Array.from({ length: Math.floor(random() * 4) }, () =>
        sample(schema.items as Schema | undefined, random, depth + 1)
      )
    case 'string': {
      const lengths = [n('minLength'), n('maxLength')]
        .filter(l => l !== undefined)
        .flatMap(l => [l - 1, l, l + 1])
        .filter(l => l >= 0)
      const formats: Record<string, string[]> = {
        uuid: ['0b4c7d6e-1f2a-4b3c-9d8e-7f6a5b4c3d2e', '0b4c7d6e-1f2a-4b3c-9d8e'],
        'date-time': ['2026-11-22T10:30:00.000Z', '2026-11-22', '2026-13-40T99:99:99Z'],
        email: ['a@example.com', 'not-an-email', 'A@EXAMPLE.COM']
      }
      const candidates = [
        ...lengths.map(l => 'a'.repeat(l)),
        ...(formats[schema.format as string] ?? []),
        'abc',
        'A-b_c.1'
      ]
      return pick(candidates)
    }
    case 'integer':
    case 'number': {
      const bounds = [n('minimum'), n('maximum'), n('exclusiveMinimum'), n('exclusiveMaximum')]
        .filter(b => b !== undefined)
        .flatMap(b => [b - 1, b, b + 1])
      const value = pick([...bounds, 0, 1, 7, 0.5, -3])
      return random() < 0.3 ? String(value) : value
    }
    case 'boolean':
      return pick([true, false, 'true', 'false', '1', 0])
    default:
      return pick(HOSTILE)
  }
}

const clone = (value: unknown): unknown => (value === undefined ? undefined : structuredClone(value))
const CASES = 400

function outcome(validate: ReturnType<typeof validatorCompiler>, input: unknown) {
  // Validation coerces and fills defaults in place: what it leaves behind is part of its answer.
  const data = clone(input)
  const valid = validate(data)
  const errors = 'errors' in validate ? validate.errors : undefined
  return { valid, errors: valid ? null : (errors ?? null), data }
}

t.test('every precompiled validator decides as the one compiled at start-up, on the same input', async t => {
  let accepted = 0
  for (const kind of ['body', 'text'] as const) {
    for (const [key, schema] of schemas.validators[kind]) {
      const httpPart = kind === 'body' ? 'body' : 'querystring'
      const runtime = validatorCompiler({ schema, httpPart, method: '', url: '' })
      // Both with the rules src/http/input-rules.ts adds, as both compilers give them to Fastify.
      const built = withInputRules(schema, httpPart, precompiled.validators[kind][key]!())
      const seed = Number.parseInt(key.slice(0, 6).replace(/[^0-9a-f]/gi, '0'), 16) || 1
      const random = prng(seed)
      let differences = 0
      for (let i = 0; i < CASES && differences === 0; i++) {
        const input = sample(schema as Schema, random)
        const [a, b] = [outcome(runtime, input), outcome(built, input)]
        if (a.valid) accepted++
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          differences++
          t.fail(`${kind} validator ${key} (seed ${seed}, case ${i})`, { input, runtime: a, precompiled: b })
        }
      }
      if (differences === 0) t.pass(`${kind} validator ${key}: ${CASES} inputs, same answers`)
    }
  }
  // Inputs both refuse prove little on their own: a good share must be accepted, defaults and coercions applied.
  t.ok(accepted > CASES, `${accepted} inputs accepted by both`)
})

function serialized(serialize: (data: unknown) => string, data: unknown): string {
  try {
    return serialize(data)
  } catch (err) {
    return `throws ${err instanceof Error ? err.message : String(err)}`
  }
}

t.test('every precompiled serializer writes what Fastify’s own would, for the same data', async t => {
  for (const [key, schema] of schemas.serializers) {
    // Fastify's default serializer compiler: fast-json-stringify with the (empty) shared schemas.
    const runtime = fastJsonStringify(schema as object, { schema: {} }) as (data: unknown) => string
    const built = precompiled.serializers[key]!()
    const random = prng(CASES)
    let differences = 0
    for (let i = 0; i < CASES && differences === 0; i++) {
      const data = sample(schema as Schema, random)
      const [a, b] = [serialized(runtime, data), serialized(built, data)]
      if (a !== b) {
        differences++
        t.fail(`serializer ${key} (case ${i})`, { data, runtime: a, precompiled: b })
      }
    }
    if (differences === 0) t.pass(`serializer ${key}: ${CASES} documents, same output`)
  }
})

/** Starts the app with one more route, on the code generated before that route existed. */
async function startWithNewRoute(route: FastifyPluginAsync, table: PrecompiledSchemas): Promise<void> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' })
  const stale = await buildApp(config, { schemaCompilers: precompiledCompilers(table), extraRoutes: [route] })
  t.teardown(() => stale.close())
  await stale.ready()
}

t.test('an app whose schemas changed after the build refuses to start, naming what changed', async t => {
  const query: FastifyPluginAsync = async app => {
    app.get(
      '/added',
      {
        config: { auth: 'public' },
        schema: { querystring: { type: 'object', properties: { n: { type: 'integer', maximum: 3 } } } }
      },
      async () => ({})
    )
  }
  await t.rejects(startWithNewRoute(query, precompiled), /querystring validator of GET \/added has no precompiled code/)

  const response: FastifyPluginAsync = async app => {
    app.get(
      '/added',
      {
        config: { auth: 'public' },
        schema: { response: { 200: { type: 'object', properties: { changed: { type: 'string' } } } } }
      },
      async () => ({})
    )
  }
  await t.rejects(startWithNewRoute(response, precompiled), /200 serializer of GET \/added has no precompiled code/)
})

t.test('an app on the generated code builds and answers', async t => {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' })
  const built = await buildApp(config, { schemaCompilers: precompiledCompilers(precompiled) })
  t.teardown(() => built.close())
  const res = await built.inject({ method: 'GET', url: '/health?deep=0' })
  t.equal(res.statusCode, 200)
  t.equal(res.json().status, 'ok')
  const bad = await built.inject({ method: 'GET', url: '/health?deep=maybe' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { statusCode: 400, code: String })
})

t.test('generation is deterministic, and the last build’s code matches the schemas as they are now', async t => {
  const again = await collectSchemas()
  await again.app.close()
  t.same(generateModule(again.schemas as CollectedSchemas), generated, 'the same schemas give the same code')
  if (!existsSync(PRECOMPILED_PATH)) {
    t.pass('no build output to compare (npm run build writes src/precompiled/schemas.cjs)')
    return
  }
  const onDisk = {
    module: await readFile(PRECOMPILED_PATH, 'utf8'),
    code: existsSync(PRECOMPILED_CODE_PATH) ? await readFile(PRECOMPILED_CODE_PATH, 'utf8') : ''
  }
  const stale = 'src/precompiled/ is stale: the schemas changed since `npm run build`; run it again'
  if (generatingNodeMajor(onDisk.module) === GENERATING_NODE_MAJOR) {
    t.ok(onDisk.module === generated.module && onDisk.code === generated.code, stale)
    return
  }
  // Built on another Node major: the code differs in its tuning, so the schemas it covers are what must match.
  const keys = (m: ReturnType<typeof loadModule>) => ({
    body: Object.keys(m.validators.body).sort(),
    text: Object.keys(m.validators.text).sort(),
    serializers: Object.keys(m.serializers).sort()
  })
  t.same(keys(loadModule(onDisk)), keys(precompiled), stale)
})
