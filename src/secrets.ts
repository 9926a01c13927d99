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
  // Each client is imported only by the deployments that keep a secret there: the others never load it.
  if (name.startsWith('ssm:')) {
    const { GetParameterCommand, SSMClient } = await import('@aws-sdk/client-ssm')
    const client = new SSMClient({ ...common, endpoint: source.endpoints.ssm })
    try {
      const { Parameter } = await client.send(new GetParameterCommand({ Name: name.slice(4), WithDecryption: true }))
      return { value: Parameter?.Value ?? '', origin: `SSM parameter ${name.slice(4)}` }
    } finally {
      client.destroy()
    }
  }
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager')
  const client = new SecretsManagerClient({ ...common, endpoint: source.endpoints.secretsManager })
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: name }))
    return { value: SecretString ?? '', origin: `secret ${name}` }
  } finally {
    client.destroy()
  }
}
