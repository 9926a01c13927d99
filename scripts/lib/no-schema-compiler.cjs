'use strict'
// Stands in for Fastify's start-up schema compilers (@fastify/ajv-compiler, @fastify/fast-json-stringify-compiler)
// in the Lambda bundle, whose routes come precompiled (src/http/schema-compilers.ts). Fastify sets these up for every
// instance (the docs app has no schemas to compile), so only compiling a schema is refused: that is a bug here,
// not a slow path.
module.exports = function noSchemaCompilerFactory() {
  return function noSchemaCompiler() {
    return function compile() {
      throw new Error('This bundle compiles no schemas at run time: build the app with precompiledCompilers()')
    }
  }
}
