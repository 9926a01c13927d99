/**
 * What the parts of `npm run deploy:rehearse` share: the stack as it was
 * created (from scripts/rehearse/stack.py), and the handles every check and
 * rehearsal is given.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { S3Client } from '@aws-sdk/client-s3'

export const REGION = 'us-east-1'
export const STACK = 'atlas-rehearsal'
export const KEYS_SECRET = 'atlas/rehearsal-api-keys'
/** The Obsidian account the stack is given, served by a stand-in of the service. */
export const OBSIDIAN = {
  email: 'rehearsal@example.com',
  password: 'rehearsal password',
  vault: 'rehearsal-vault',
  vaultPassword: 'vault password'
}

export type Resource = { logicalId: string; type: string; physicalId: string; status: string }
export type TemplateResource = { Type: string; Properties?: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
export interface FunctionConfig {
  name: string
  runtime: string
  memory: number
  timeout: number
  environment: Record<string, string>
}
export interface Deployed {
  status: string
  reason?: string
  resources: Resource[]
  functions: Record<string, FunctionConfig>
  /** The stack's outputs, by key, as CloudFormation resolved them. */
  outputs: Record<string, string | undefined>
  /** Each dashboard's body as CloudWatch holds it, by logical id. */
  dashboards: Record<string, string>
  template: { Resources: Record<string, TemplateResource>; Outputs?: Record<string, unknown> }
}
export type Invoke = (event: unknown, timeoutMs?: number) => Promise<any> // eslint-disable-line @typescript-eslint/no-explicit-any
export type Check = (ok: boolean, name: string, detail?: unknown) => boolean

export interface Context {
  invoke: Invoke
  check: Check
  deployed: Deployed
  env: Record<string, string>
  /** The physical id of a resource of the stack. */
  physical: (logicalId: string) => string | undefined
  s3: S3Client
  dynamodb: DynamoDBClient
  headers: Record<string, string>
}
