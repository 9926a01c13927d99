'use strict'
// Stands in for Fastify's start-up schema compilers (@fastify/ajv-compiler, @fastify/fast-json-stringify-compiler)
// in the Lambda bundle, whose routes come precompiled (src/schema-compilers.ts): Fastify asks for these only when
// an app brings no compilers of its own, so reaching this is a bug, not a slow path.
module.exports = function noSchemaCompiler() {
  throw new Error('This bundle compiles no schemas at run time: build the app with precompiledCompilers()')
}
