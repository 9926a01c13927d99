import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { etagOf, ifMatchVersions, matchesVersion } from '../http/etag.ts'
import { MAX_PAYLOAD_BYTES } from '../core/limits.ts'
import { datasetNotFound, versionNotFound } from '../repositories/data.ts'
import { errorResponses } from '../schemas/common.ts'
import {
  ConditionalReadHeaders,
  ConditionalWriteHeaders,
  CreateDatasetBody,
  Dataset,
  DatasetDeleted,
  DatasetVersions,
  KeyIdParams,
  UpdateDatasetBody,
  VersionParams,
  VersionStamp
} from '../schemas/data.ts'

/** A 5 MiB payload, its metadata and JSON escaping of a base64 payload fit; the payload limit itself answers 413. */
export const DATA_BODY_LIMIT = MAX_PAYLOAD_BYTES + 1024 * 1024

const etagHeader = { ETag: { type: 'string', description: 'The version, quoted: "3"' } }
const NotModified = Type.Null({ description: 'Not Modified: the If-None-Match ETag is still current' })

/** Every /data route is public: the unguessable keyId is the capability (README: Authentication); the rate limiter still applies. */
const dataRoutes: FastifyPluginAsyncTypebox = async app => {
  const repo = app.dataRepository

  app.post(
    '/data',
    {
      bodyLimit: DATA_BODY_LIMIT,
      config: { auth: 'public' },
      schema: {
        tags: ['data'],
        summary: 'Create a dataset (version 1)',
        description:
          'The client may choose the keyId (a UUID); otherwise the server makes one. Payloads too large for a DynamoDB item are kept in S3, transparently.',
        body: CreateDatasetBody,
        response: {
          201: { ...VersionStamp, headers: { Location: { type: 'string' }, ...etagHeader } },
          ...errorResponses(400, 409, 413, 415)
        }
      }
    },
    async (request, reply) => {
      const { keyId, ...input } = request.body
      const created = await repo.create(input, keyId)
      return await reply
        .code(201)
        .header('location', `/data/${created.keyId}`)
        .header('etag', etagOf(created.version))
        .send(created)
    }
  )

  app.get(
    '/data/:keyId',
    {
      // HEAD answers with the status and headers (the ETag) alone.
      exposeHeadRoute: true,
      config: { auth: 'public' },
      schema: {
        tags: ['data'],
        summary: 'Read the latest version',
        params: KeyIdParams,
        headers: ConditionalReadHeaders,
        response: {
          200: { ...Dataset, headers: etagHeader },
          304: NotModified,
          ...errorResponses(400, 404)
        }
      }
    },
    async (request, reply) => {
      const { keyId } = request.params
      const latest = await repo.latest(keyId)
      if (latest === undefined) throw datasetNotFound(keyId)
      reply.header('etag', etagOf(latest.version))
      if (matchesVersion(request.headers['if-none-match'], latest.version)) return await reply.code(304).send(null)
      const { version, meta, updatedAt } = latest
      return { keyId, version, payload: await repo.payloadOf(latest), meta, updatedAt }
    }
  )

  app.put(
    '/data/:keyId',
    {
      bodyLimit: DATA_BODY_LIMIT,
      config: { auth: 'public' },
      schema: {
        tags: ['data'],
        summary: 'Write a new version (version + 1)',
        description:
          'Without If-Match the last writer wins. With If-Match the write lands only if it names the current version; otherwise 412 and nothing is written.',
        params: KeyIdParams,
        headers: ConditionalWriteHeaders,
        body: UpdateDatasetBody,
        response: {
          200: { ...VersionStamp, headers: etagHeader },
          ...errorResponses(400, 404, 409, 412, 413, 415)
        }
      }
    },
    async (request, reply) => {
      const updated = await repo.update(
        request.params.keyId,
        request.body,
        ifMatchVersions(request.headers['if-match'])
      )
      reply.header('etag', etagOf(updated.version))
      return updated
    }
  )

  app.delete(
    '/data/:keyId',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['data'],
        summary: 'Delete a dataset and all its versions',
        params: KeyIdParams,
        response: { 200: DatasetDeleted, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const { keyId } = request.params
      await repo.delete(keyId)
      return { message: 'Dataset deleted successfully' as const, keyId }
    }
  )

  app.get(
    '/data/:keyId/versions',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['data'],
        summary: 'List the readable versions, newest first',
        description: 'The last ten versions stay readable, so a client whose write was overwritten can merge.',
        params: KeyIdParams,
        response: { 200: DatasetVersions, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const { keyId } = request.params
      const versions = await repo.versions(keyId)
      if (versions === undefined) throw datasetNotFound(keyId)
      return { keyId, versions: versions.map(({ version, updatedAt }) => ({ version, updatedAt })) }
    }
  )

  app.get(
    '/data/:keyId/versions/:version',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['data'],
        summary: 'Read one of the last ten versions',
        params: VersionParams,
        response: { 200: { ...Dataset, headers: etagHeader }, ...errorResponses(400, 404) }
      }
    },
    async (request, reply) => {
      const { keyId, version } = request.params
      const dataset = await repo.version(keyId, version)
      if (dataset === undefined) throw versionNotFound(keyId, version)
      reply.header('etag', etagOf(dataset.version))
      return dataset
    }
  )
}

export default dataRoutes
