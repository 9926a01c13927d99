import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { assetNotFound } from '../repositories/assets/index.ts'
import { errorResponses } from '../schemas/common.ts'
import {
  Asset,
  AssetList,
  AssetParams,
  CompleteBody,
  CreateAssetBody,
  CreatedAsset,
  Download,
  DownloadQuery,
  ListAssetsQuery,
  PartsBody,
  PartUrls
} from '../schemas/assets.ts'

const read = { auth: { scopes: ['assets:read'] } }
const write = { auth: { scopes: ['assets:write'] } }

/** Metadata and presigned URLs; the bytes go straight between the client and S3. */
const assetsRoutes: FastifyPluginAsyncTypebox = async app => {
  const repo = app.assetsRepository

  app.post(
    '/assets',
    {
      config: write,
      schema: {
        tags: ['assets'],
        summary: 'Declare a file and get where to upload it',
        description:
          'Answers with a presigned PUT (headers to send included), or for files over ASSETS_MULTIPART_BYTES a multipart upload.',
        body: CreateAssetBody,
        response: {
          201: { ...CreatedAsset, headers: { Location: { type: 'string' } } },
          ...errorResponses(400, 413, 415)
        }
      }
    },
    async (request, reply) => {
      const created = await repo.create(request.body)
      return await reply.code(201).header('location', `/assets/${created.assetId}`).send(created)
    }
  )

  app.get(
    '/assets',
    {
      config: read,
      schema: {
        tags: ['assets'],
        summary: 'List assets with one status, newest first',
        querystring: ListAssetsQuery,
        response: { 200: AssetList, ...errorResponses(400) }
      }
    },
    async request => {
      const { status, limit, cursor } = request.query
      return await repo.list(status, limit, cursor)
    }
  )

  app.get(
    '/assets/:assetId',
    {
      config: read,
      schema: {
        tags: ['assets'],
        summary: 'Read an asset; while pending, checks whether its bytes have arrived',
        params: AssetParams,
        response: { 200: Asset, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const asset = await repo.get(request.params.assetId)
      if (asset === undefined) throw assetNotFound(request.params.assetId)
      return asset
    }
  )

  app.get(
    '/assets/:assetId/download',
    {
      config: read,
      schema: {
        tags: ['assets'],
        summary: 'A presigned download URL (or ?redirect=1: a 302 to it)',
        params: AssetParams,
        querystring: DownloadQuery,
        response: {
          200: Download,
          302: Type302,
          ...errorResponses(400, 404, 409)
        }
      }
    },
    async (request, reply) => {
      const download = await repo.downloadUrl(request.params.assetId)
      const redirect = request.query.redirect === '1' || request.query.redirect === 'true'
      if (redirect) return await reply.redirect(download.url, 302)
      return download
    }
  )

  app.delete(
    '/assets/:assetId',
    {
      config: write,
      schema: {
        tags: ['assets'],
        summary: 'Delete an asset: its bytes (or unfinished multipart upload) and its metadata',
        params: AssetParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses(400, 404) }
      }
    },
    async (request, reply) => {
      const { objectError } = await repo.delete(request.params.assetId)
      if (objectError !== undefined)
        request.log.warn(
          { err: objectError, assetId: request.params.assetId },
          'asset deleted; its object is left to expire'
        )
      return await reply.code(204).send()
    }
  )

  app.post(
    '/assets/:assetId/parts',
    {
      config: write,
      schema: {
        tags: ['assets'],
        summary: 'Presigned URLs for parts of a multipart upload',
        params: AssetParams,
        body: PartsBody,
        response: { 200: PartUrls, ...errorResponses(400, 404, 409, 415) }
      }
    },
    async request => {
      return await repo.partUrls(request.params.assetId, request.body.partNumbers)
    }
  )

  app.post(
    '/assets/:assetId/complete',
    {
      config: write,
      schema: {
        tags: ['assets'],
        summary: "Complete a multipart upload from its parts' ETags",
        params: AssetParams,
        body: CompleteBody,
        response: { 200: Asset, ...errorResponses(400, 404, 409, 415) }
      }
    },
    async request => {
      return await repo.complete(request.params.assetId, request.body.parts)
    }
  )
}

const Type302 = { type: 'null', description: 'Found: Location is the presigned download URL' }

export default assetsRoutes
