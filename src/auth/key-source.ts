import { parseApiKeys, type ApiKey } from './api-keys.ts'

export interface KeySourceConfig {
  region: string
  /** `API_KEYS_SECRET`: a Secrets Manager secret id or ARN, or `ssm:<parameter name>`. */
  apiKeysSecret?: string
  endpoints: { secretsManager?: string; ssm?: string }
  credentials?: { accessKeyId: string; secretAccessKey: string }
}

/**
 * Reads the API keys kept in Secrets Manager or SSM Parameter Store. Called once,
 * when the app is built (on Lambda: at cold start), so a request never waits on it.
 */
export async function loadSecretApiKeys(config: KeySourceConfig): Promise<ApiKey[]> {
  const name = config.apiKeysSecret
  if (name === undefined) return []
  const common = { region: config.region, credentials: config.credentials, maxAttempts: 3 }
  // Each client is imported only by the deployments that keep their keys there: the others never load it.
  if (name.startsWith('ssm:')) {
    const { GetParameterCommand, SSMClient } = await import('@aws-sdk/client-ssm')
    const client = new SSMClient({ ...common, endpoint: config.endpoints.ssm })
    try {
      const { Parameter } = await client.send(new GetParameterCommand({ Name: name.slice(4), WithDecryption: true }))
      return parseApiKeys(Parameter?.Value ?? '', `SSM parameter ${name.slice(4)}`)
    } finally {
      client.destroy()
    }
  }
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager')
  const client = new SecretsManagerClient({ ...common, endpoint: config.endpoints.secretsManager })
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: name }))
    return parseApiKeys(SecretString ?? '', `secret ${name}`)
  } finally {
    client.destroy()
  }
}
