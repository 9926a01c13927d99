import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats is CommonJS; its typings place the plugin on `default`, which it also sets at run time.
const addFormats = addFormatsModule.default

const common: Options = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false }

/**
 * Bodies are validated as sent: a "250000" string is not an integer and an
 * unknown field is an error, so nothing half-understood is stored. Params,
 * query strings and headers arrive as text, so they are coerced.
 */
const bodyAjv = addFormats(new Ajv({ ...common, coerceTypes: false }))
const textAjv = addFormats(new Ajv({ ...common, coerceTypes: 'array' }))

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema)
