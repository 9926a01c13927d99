/**
 * `node --import tsx scripts/precompile-schemas.ts` (run by `npm run build`):
 * builds the app, collects every schema Fastify hands its compilers (every
 * route's params, query string, headers, body and responses, whichever routes
 * exist), and writes src/precompiled/schemas.cjs: the ajv validators
 * (src/validation.ts's options) and fast-json-stringify serializers (Fastify's
 * defaults) as code, keyed by schemaKey(). The Lambda bundle includes that file,
 * so a cold start compiles nothing. test/precompiled-schemas.test.ts checks the
 * generated code against the compilers the app uses at run time.
 */
import { writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import standaloneModule from 'ajv/dist/standalone/index.js'
import fastJsonStringify from 'fast-json-stringify'
import type { FastifyInstance, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify'
import { buildApp, type BuildOptions } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import {
  schemaKey,
  validatorKind,
  type PrecompiledSchemas,
  type SchemaCompilers,
  type ValidatorKind
} from '../src/schema-compilers.ts'
import { createAjv } from '../src/validation.ts'

// CommonJS with `default` beside `module.exports`, as ajv-formats (src/validation.ts).
const standaloneCode = standaloneModule.default

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const PRECOMPILED_PATH = join(root, 'src/precompiled/schemas.cjs')
export const GENERATING_NODE_MAJOR = Number.parseInt(process.versions.node, 10)

/** The Node major a generated module says made it. */
export const generatingNodeMajor = (source: string): number | undefined => {
  const match = /^\/\/ node (\d+)$/m.exec(source)
  return match === null ? undefined : Number(match[1])
}

export interface CollectedSchemas {
  validators: Record<ValidatorKind, Map<string, unknown>>
  serializers: Map<string, unknown>
}

/**
 * Every schema the app compiles, by key, as Fastify hands them over (header
 * schemas already lower-cased). The app is built for Lambda, as the bundle
 * builds it, and is returned ready, for anything else the build reads from it.
 */
export async function collectSchemas(
  options: BuildOptions = {}
): Promise<{ app: FastifyInstance; schemas: CollectedSchemas }> {
  const schemas: CollectedSchemas = { validators: { body: new Map(), text: new Map() }, serializers: new Map() }
  const validator: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
    schemas.validators[validatorKind(httpPart)].set(schemaKey(schema), schema)
    return () => true
  }
  const serializer: FastifySerializerCompiler<unknown> = ({ schema }) => {
    schemas.serializers.set(schemaKey(schema), schema)
    return data => JSON.stringify(data)
  }
  const recording: SchemaCompilers = { buildValidator: () => validator, buildSerializer: () => serializer }
  const config = loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', AWS_REGION: 'us-east-1' }, 'lambda')
  const app = await buildApp(config, { ...options, schemaCompilers: recording })
  await app.ready()
  return { app, schemas }
}

// Keywords that only describe: neither ajv nor fast-json-stringify acts on them.
const ANNOTATIONS = new Set(['title', 'description', 'examples', '$comment'])
// Keywords whose value is data, never a schema: kept exactly as written.
const VALUES = new Set(['enum', 'const', 'default', 'required', 'dependentRequired', 'type'])
// Keywords whose value maps names (which may be anything, "description" too) to schemas.
const SCHEMA_MAPS = new Set([
  'properties',
  'patternProperties',
  'definitions',
  '$defs',
  'dependentSchemas',
  'dependencies'
])

/**
 * The schema without its annotations, for code generation: the generated code is
 * the same, smaller (ajv embeds the sub-schemas it reports), and schemas that
 * differ only in their descriptions share it. The lookup key stays the whole schema.
 */
export function withoutAnnotations(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutAnnotations)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Record<string, unknown> = {}
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue
    if (VALUES.has(keyword)) out[keyword] = value
    else if (SCHEMA_MAPS.has(keyword) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      out[keyword] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutAnnotations(sub)]))
    } else out[keyword] = withoutAnnotations(value)
  }
  return out
}

/** One schema's validator as a CommonJS module body; a fresh ajv each, so equal schemas give equal code. */
function validatorSource(kind: ValidatorKind, schema: unknown): string {
  const ajv = createAjv(kind, { code: { source: true } })
  return standaloneCode(ajv, ajv.compile(withoutAnnotations(schema) as object))
}

/**
 * One schema's serializer as a CommonJS module body, with Fastify's options and
 * its validators inlined. fast-json-stringify numbers its internal schema ids
 * per process; renumbering them per body makes equal schemas give equal code.
 */
function serializerSource(schema: unknown): string {
  const code = fastJsonStringify(withoutAnnotations(schema) as object, {
    schema: {},
    mode: 'standalone',
    inlineValidators: true
  })
  const ids = new Map<string, string>()
  return code.replace(/__fjs_(root|merged)_\d+/g, id => {
    if (!ids.has(id)) ids.set(id, `__fjs_${id.split('_')[3]}_${ids.size}`)
    return ids.get(id)!
  })
}

/**
 * The generated module: each distinct module body once, as a function that
 * evaluates it (so code is compiled only for the schemas a route asks for),
 * and per kind the key -> function tables of PrecompiledSchemas.
 */
export function generateModule(schemas: CollectedSchemas): string {
  const bodies: string[] = []
  const indexOf = new Map<string, number>()
  const table = (entries: Iterable<[string, unknown]>, source: (schema: unknown) => string) => {
    const rows = [...entries]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, schema]) => {
        const body = source(schema)
        let index = indexOf.get(body)
        if (index === undefined) {
          index = bodies.push(body) - 1
          indexOf.set(body, index)
        }
        return `    ${JSON.stringify(key)}: code[${index}]`
      })
    return `{\n${rows.join(',\n')}\n  }`
  }
  const body = table(schemas.validators.body, schema => validatorSource('body', schema))
  const text = table(schemas.validators.text, schema => validatorSource('text', schema))
  const serializers = table(schemas.serializers, serializerSource)
  return [
    "'use strict'",
    '// Generated by scripts/precompile-schemas.ts from the routes’ schemas when `npm run build` runs. Do not edit.',
    // fast-json-stringify tunes its array fast paths to the Node major that generates the code: the same schemas give
    // other (equivalent) code on another major, so the staleness check compares keys across majors.
    `// node ${GENERATING_NODE_MAJOR}`,
    'const code = [',
    bodies.map(b => `function () {\nconst module = { exports: {} }\n${b}\nreturn module.exports\n}`).join(',\n'),
    ']',
    `module.exports = {\n  validators: {\n  body: ${body},\n  text: ${text}\n  },\n  serializers: ${serializers}\n}`,
    ''
  ].join('\n')
}

/** Evaluates a generated module as src/precompiled/schemas.cjs would be, without writing it (tests). */
export function loadModule(source: string): PrecompiledSchemas {
  const module = { exports: {} as PrecompiledSchemas }
  const require = createRequire(PRECOMPILED_PATH)
  new Function('module', 'exports', 'require', source)(module, module.exports, require)
  return module.exports
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { app, schemas } = await collectSchemas()
  await app.close()
  const source = generateModule(schemas)
  await writeFile(PRECOMPILED_PATH, source)
  const count = schemas.validators.body.size + schemas.validators.text.size + schemas.serializers.size
  console.log(`src/precompiled/schemas.cjs  ${(source.length / 1024).toFixed(1)} KiB  (${count} schemas)`)
}
