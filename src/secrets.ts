import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'

export interface SecretSource {
  region: string
  endpoints: { secretsManager?: string; ssm?: string }
  credentials?: { accessKeyId: string; secretAccessKey: string }
}

/**
 * The text of a Secrets Manager secret (id or ARN) or, for `ssm:<name>`, of an
 * SSM SecureString parameter; with a description of where it came from, for
 * error messages that must not hold the value.
 */
export async function readSecret(name: string, source: SecretSource): Promise<{ value: string; origin: string }> {
  const common = { region: source.region, credentials: source.credentials, maxAttempts: 3 }
  if (name.startsWith('ssm:')) {
    const client = new SSMClient({ ...common, endpoint: source.endpoints.ssm })
    try {
      const { Parameter } = await client.send(new GetParameterCommand({ Name: name.slice(4), WithDecryption: true }))
      return { value: Parameter?.Value ?? '', origin: `SSM parameter ${name.slice(4)}` }
    } finally {
      client.destroy()
    }
  }
  const client = new SecretsManagerClient({ ...common, endpoint: source.endpoints.secretsManager })
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: name }))
    return { value: SecretString ?? '', origin: `secret ${name}` }
  } finally {
    client.destroy()
  }
}
