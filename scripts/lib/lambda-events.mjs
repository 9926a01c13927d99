/**
 * The events Lambda hands the function, as AWS sends them, and the context
 * object its Node.js runtime passes: one definition for the smoke test, the
 * deploy rehearsal, the cold-start benchmark and the tests.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { marshall } from '@aws-sdk/util-dynamodb'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const DOMAIN = 'abc123defg.execute-api.us-east-1.amazonaws.com'

/** API Gateway's request time: `22/Nov/2026:10:30:00 +0000`. */
const gatewayTime = (/** @type {Date} */ now) =>
  now
    .toISOString()
    .replace(/^(\d+)-(\d+)-(\d+)T([\d:]+)\.\d+Z$/, (_, y, m, d, t) => `${d}/${MONTHS[Number(m) - 1]}/${y}:${t} +0000`)

/**
 * An API Gateway HTTP API event, payload format 2.0, as the `$default` route delivers it.
 * @param {{ method: string, path: string, query?: Record<string, string> | string, headers?: Record<string, string>,
 *   body?: string, isBase64Encoded?: boolean, stage?: string, requestId?: string }} request
 */
export function httpApiEvent({
  method,
  path,
  query = {},
  headers = {},
  body,
  isBase64Encoded = false,
  stage = '$default',
  requestId
}) {
  const now = new Date()
  const rawQueryString = typeof query === 'string' ? query : new URLSearchParams(query).toString()
  const userAgent = 'curl/8.5.0'
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString,
    headers: {
      accept: '*/*',
      'content-length': String(body === undefined ? 0 : Buffer.byteLength(body, isBase64Encoded ? 'base64' : 'utf8')),
      host: DOMAIN,
      'user-agent': userAgent,
      'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...headers
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123defg',
      domainName: DOMAIN,
      domainPrefix: 'abc123defg',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent },
      // API Gateway's look like "JKJaXmPLvHcESHA=".
      requestId: requestId ?? `${randomBytes(12).toString('base64url').slice(0, 15)}=`,
      routeKey: '$default',
      stage,
      time: gatewayTime(now),
      timeEpoch: now.getTime()
    },
    isBase64Encoded
  }
  return {
    ...event,
    ...(rawQueryString === ''
      ? {}
      : { queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString)) }),
    ...(body === undefined ? {} : { body })
  }
}

/**
 * An API Gateway REST API event, payload format 1.0, on stage `prod`.
 * @param {{ method: string, path: string, query?: Record<string, string>, headers?: Record<string, string>, body?: string, isBase64Encoded?: boolean }} request
 */
export function restApiEvent({ method, path, query, headers = {}, body, isBase64Encoded = false }) {
  /** @type {Record<string, string>} */
  const allHeaders = {
    Accept: '*/*',
    Host: DOMAIN,
    'User-Agent': 'curl/8.5.0',
    'X-Forwarded-For': '203.0.113.7',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...headers
  }
  const now = new Date()
  return {
    version: '1.0',
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers: allHeaders,
    multiValueHeaders: Object.fromEntries(Object.entries(allHeaders).map(([k, v]) => [k, [v]])),
    queryStringParameters: query ?? null,
    multiValueQueryStringParameters: query ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])) : null,
    pathParameters: { proxy: path.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123defg',
      domainName: DOMAIN,
      httpMethod: method,
      identity: { sourceIp: '203.0.113.7', userAgent: 'curl/8.5.0' },
      path: `/prod${path}`,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTime: gatewayTime(now),
      requestTimeEpoch: now.getTime(),
      resourceId: 'a1b2c3',
      resourcePath: '/{proxy+}',
      stage: 'prod'
    },
    body: body ?? null,
    isBase64Encoded
  }
}

/**
 * An S3 event notification for one object, as S3 sends it to Lambda: the key URL-encoded, spaces as `+`.
 * @param {{ bucket: string, key: string, eventName?: string, size?: number, eTag?: string }} object
 */
export function s3Event({
  bucket,
  key,
  eventName = 'ObjectCreated:Put',
  size = 0,
  eTag = '0123456789abcdef0123456789abcdef'
}) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: new Date().toISOString(),
        eventName,
        userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
        requestParameters: { sourceIPAddress: '203.0.113.7' },
        responseElements: {
          'x-amz-request-id': 'C3D13FE58DE4C810',
          'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD'
        },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'atlas-assets-uploaded',
          bucket: { name: bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${bucket}` },
          object: {
            key: encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/'),
            size,
            eTag,
            sequencer: '0055AED6DCD90281E5'
          }
        }
      }
    ]
  }
}

/**
 * DynamoDB Streams records as an event source mapping hands them to Lambda, one per written item, in order.
 * `keys` names the table's key attributes; the images are included as the stream's view type has them.
 * @param {{ table: string, items: Array<Record<string, unknown>>, keys?: string[], eventName?: 'INSERT' | 'MODIFY' | 'REMOVE',
 *   viewType?: 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES', region?: string }} stream
 */
export function dynamodbStreamEvent({
  table,
  items,
  keys = ['pk', 'sk'],
  eventName = 'INSERT',
  viewType = 'KEYS_ONLY',
  region = 'us-east-1'
}) {
  const now = Math.floor(Date.now() / 1000)
  const sequence = BigInt(`1${String(now).padStart(12, '0')}0000000000000`)
  return {
    Records: items.map((item, i) => {
      const image = marshall(item, { removeUndefinedValues: true })
      const Keys = Object.fromEntries(keys.map(name => [name, image[name]]))
      const withNew = eventName !== 'REMOVE' && (viewType === 'NEW_IMAGE' || viewType === 'NEW_AND_OLD_IMAGES')
      const withOld = eventName !== 'INSERT' && (viewType === 'OLD_IMAGE' || viewType === 'NEW_AND_OLD_IMAGES')
      return {
        eventID: randomBytes(16).toString('hex'),
        eventName,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: region,
        dynamodb: {
          ApproximateCreationDateTime: now,
          Keys,
          ...(withNew ? { NewImage: image } : {}),
          ...(withOld ? { OldImage: image } : {}),
          SequenceNumber: String(sequence + BigInt(i)),
          SizeBytes: JSON.stringify(viewType === 'KEYS_ONLY' ? Keys : image).length,
          StreamViewType: viewType
        },
        eventSourceARN: `arn:aws:dynamodb:${region}:123456789012:table/${table}/stream/2026-01-01T00:00:00.000`
      }
    })
  }
}

/**
 * What the Node.js runtime hands a handler as its second argument.
 * @param {{ functionName?: string, requestId?: string, timeoutMs?: number }} [options]
 */
export function lambdaContext({ functionName = 'atlas-api', requestId = randomUUID(), timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {}
  }
}
