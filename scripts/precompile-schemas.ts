/**
 * `node --import tsx scripts/precompile-schemas.ts` (run by `npm run build`):
 * builds the app, collects every schema Fastify hands its compilers (every
 * route's params, query string, headers, body and responses, whichever routes
 * exist), and writes src/precompiled/: the ajv validators (src/http/validation.ts's
 * options) and fast-json-stringify serializers (Fastify's defaults) as code in
 * schema-code.txt, and schemas.cjs, their tables keyed by schemaKey(). The
 * Lambda bundle includes the tables and ships the code beside itself, so a
 * cold start compiles nothing and reads only the code its first route uses.
 * test/precompiled-schemas.test.ts checks the generated code against the
 * compilers the app uses at run time.
 */
import { writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import standaloneModule from 'ajv/dist/standalone/index.js'
import * as esbuild from 'esbuild'
import fastJsonStringify from 'fast-json-stringify'
import type { FastifyInstance, FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify'
import { buildApp, type BuildOptions } from '../src/app.ts'
import { loadConfig } from '../src/config/config.ts'
import {
  schemaKey,
  validatorKind,
  type PrecompiledModule,
  type PrecompiledSchemas,
  type SchemaCompilers
} from '../src/http/schema-compilers.ts'
import type { ValidatorKind } from '../src/http/input-rules.ts'
import { createAjv } from '../src/http/validation.ts'

// CommonJS with `default` beside `module.exports`, as ajv-formats (src/http/validation.ts).
const standaloneCode = standaloneModule.default

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const PRECOMPILED_PATH = join(root, 'src/precompiled/schemas.cjs')
export const PRECOMPILED_CODE_PATH = join(root, 'src/precompiled/schema-code.txt')
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

/** What generated code may `require`: ajv's and fast-json-stringify's run-time helpers, bundled by name. */
const REQUIRE_PATTERN = /\brequire\((["'])([^"']+)\1\)/g

/** The build's output: the module the bundle imports, and the code it reads on first use. */
export interface GeneratedSchemas {
  /** src/precompiled/schemas.cjs: the key tables, and where each body sits in `code`. */
  module: string
  /** src/precompiled/schema-code.txt: every distinct module body, minified, one after the other. */
  code: string
}

/**
 * Each distinct module body once, minified, in a file of its own that is read
 * and evaluated when a route first uses it: a cold start neither reads nor
 * parses the code of routes it does not serve. The module holds the modules
 * those bodies require (static `require` calls, so a bundler includes them),
 * each body's byte span in that file, and per kind the key -> function tables
 * of PrecompiledSchemas, behind a function given a reader of those spans.
 */
export function generateModule(schemas: CollectedSchemas): GeneratedSchemas {
  const bodies: string[] = []
  const indexOf = new Map<string, number>()
  const table = (entries: Iterable<[string, unknown]>, source: (schema: unknown) => string) => {
    const rows = [...entries]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, schema]) => {
        const body = esbuild.transformSync(source(schema), { minify: true, target: 'node20' }).code.trim()
        let index = indexOf.get(body)
        if (index === undefined) {
          index = bodies.push(body) - 1
          indexOf.set(body, index)
        }
        return `    ${JSON.stringify(key)}: make(${index})`
      })
    return `{\n${rows.join(',\n')}\n    }`
  }
  const body = table(schemas.validators.body, schema => validatorSource('body', schema))
  const text = table(schemas.validators.text, schema => validatorSource('text', schema))
  const serializers = table(schemas.serializers, serializerSource)
  const required = [...new Set(bodies.flatMap(b => [...b.matchAll(REQUIRE_PATTERN)].map(match => match[2]!)))].sort()
  const spans: Array<[number, number]> = []
  let offset = 0
  for (const b of bodies) {
    const end = offset + Buffer.byteLength(b)
    spans.push([offset, end])
    offset = end + 1
  }
  const module = [
    "'use strict'",
    '// Generated by scripts/precompile-schemas.ts from the routes’ schemas when `npm run build` runs. Do not edit.',
    // fast-json-stringify tunes its array fast paths to the Node major that generates the code: the same schemas give
    // other (equivalent) code on another major, so the staleness check compares keys across majors.
    `// node ${GENERATING_NODE_MAJOR}`,
    'const runtime = {',
    required.map(id => `  ${JSON.stringify(id)}: () => require(${JSON.stringify(id)})`).join(',\n'),
    '}',
    'const load = id => {',
    '  if (!Object.hasOwn(runtime, id)) throw new Error(`precompiled schema code requires ${id}, which the generator did not see`)',
    '  return runtime[id]()',
    '}',
    '// Each module body in schema-code.txt, as [start, end) byte offsets.',
    `const spans = ${JSON.stringify(spans)}`,
    'module.exports = readCode => {',
    '  const make = index => () => {',
    '    const module = { exports: {} }',
    "    new Function('module', 'exports', 'require', readCode(...spans[index]))(module, module.exports, load)",
    '    return module.exports',
    '  }',
    `  return {\n    validators: {\n    body: ${body},\n    text: ${text}\n    },\n    serializers: ${serializers}\n  }`,
    '}',
    ''
  ].join('\n')
  return { module, code: bodies.join('\n') + '\n' }
}

/** Evaluates generated code as src/precompiled/schemas.cjs and its code file would be, without writing them (tests). */
export function loadModule(generated: GeneratedSchemas): PrecompiledSchemas {
  const module = { exports: undefined as unknown as PrecompiledModule }
  const require = createRequire(PRECOMPILED_PATH)
  new Function('module', 'exports', 'require', generated.module)(module, {}, require)
  const code = Buffer.from(generated.code)
  return module.exports((start, end) => code.toString('utf8', start, end))
}

const kib = (text: string) => `${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB`

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { app, schemas } = await collectSchemas()
  await app.close()
  const generated = generateModule(schemas)
  await writeFile(PRECOMPILED_PATH, generated.module)
  await writeFile(PRECOMPILED_CODE_PATH, generated.code)
  const count = schemas.validators.body.size + schemas.validators.text.size + schemas.serializers.size
  console.log(
    `src/precompiled/schemas.cjs  ${kib(generated.module)}, schema-code.txt  ${kib(generated.code)}  (${count} schemas)`
  )
}
