/**
 * The cold-start baseline for `npm run bench:cold`: the least a Fastify app on
 * Lambda can be. Fastify behind @fastify/aws-lambda, one DynamoDB and one S3
 * client built at init (as src/entries/lambda.ts does), and `GET /health` only: no
 * schemas, plugins, OpenAPI or repositories. Bundled like the real function.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { S3Client } from '@aws-sdk/client-s3'
import awsLambdaFastify from '@fastify/aws-lambda'
import Fastify from 'fastify'

// The phases `npm run bench:cold` splits a cold start into, marked where src/entries/lambda.ts marks them.
performance.mark('cold-start:modules-loaded')

const region = process.env.AWS_REGION ?? 'us-east-1'
const dynamodb = new DynamoDBClient({ region })
const s3 = new S3Client({ region })

const app = Fastify({ logger: false })
app.decorate('clients', { dynamodb, s3 })
app.get('/health', async () => ({ status: 'ok' }))

const proxy = awsLambdaFastify(app, { callbackWaitsForEmptyEventLoop: false })
await app.ready()

export const handler = proxy
