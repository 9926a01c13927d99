/**
 * moto does not enforce IAM, so the deploy rehearsal cannot see a missing
 * permission; this test does, statically: every AWS operation the code can
 * perform (test/fixtures/aws-operations.ts) must be allowed by the function's
 * policy in the translated template, on that resource; and every write action
 * the policy grants must be one the code uses.
 */
import t from 'tap'
import { buckets } from '../src/core/tables.ts'
import { codeOperations, type Operation } from './fixtures/aws-operations.ts'
import {
  allows,
  Evaluator,
  iamMatches,
  PSEUDO,
  roleStatements,
  translatedTemplate,
  type Statement,
  type Template
} from './fixtures/cloudformation.ts'

const translated = translatedTemplate()
const unavailable = 'unavailable' in translated ? translated.unavailable : undefined
const template = translated as Template
const FUNCTION = 'ApiFunction'

/** The function's role, as SAM made it. */
function functionRole(evaluator: Evaluator): { statements: Statement[]; managed: string[] } {
  const fn = template.Resources[FUNCTION]!
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string
  return roleStatements(evaluator, template.Resources[roleId]!)
}

function resourceArn(evaluator: Evaluator, op: Operation): string {
  const arn = evaluator.arnOf(op.resource)
  switch (op.target) {
    case 'index':
      return `${arn}/index/${op.index}`
    case 'object':
      return `${arn}/${Object.values(buckets).find(b => b.logicalId === op.resource)!.keyPrefix}any-key`
    default:
      return arn
  }
}

const READ_ONLY =
  /^(dynamodb:(Get|BatchGet|Query|Scan|Describe|ListStreams)|s3:(Get|List)|secretsmanager:(Get|Describe)|ssm:Get|xray:|logs:|lambda:Get)/i

t.test(
  "every operation the code performs is allowed by the function's policy, on its resource",
  { skip: unavailable },
  async t => {
    const { operations, unmapped } = codeOperations()
    t.same(unmapped, [], 'every SDK command the repositories send has an IAM action in test/fixtures/aws-operations.ts')
    t.ok(operations.length > 20, `${operations.length} operations found in src/`)
    const evaluator = new Evaluator(template)
    const { statements } = functionRole(evaluator)
    for (const op of operations) {
      const arn = resourceArn(evaluator, op)
      t.ok(
        allows(statements, op.action, arn),
        `${op.source} needs ${op.action} on ${op.resource}${op.index ? ` index ${op.index}` : ''}${op.target === 'object' ? ' objects' : ''} (${arn})`
      )
    }
  }
)

/**
 * What Lambda itself does with the function's role for its event source
 * mappings: read a stream (granted by SAM's managed policy
 * AWSLambdaDynamoDBExecutionRole) and send records that failed every retry to
 * the OnFailure destination.
 */
function mappingOperations(evaluator: Evaluator): Array<{ action: string; arn: string; mapping: string }> {
  return Object.entries(template.Resources)
    .filter(
      ([, r]) =>
        r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.FunctionName).includes(FUNCTION)
    )
    .flatMap(([mapping, r]) => {
      const destination = r.Properties.DestinationConfig?.OnFailure?.Destination
      return destination === undefined
        ? []
        : [{ action: 'sqs:SendMessage', arn: evaluator.value(destination) as string, mapping }]
    })
}

t.test(
  "the stream's event source mapping may read the stream and send failed records to its dead-letter queue",
  { skip: unavailable },
  async t => {
    const evaluator = new Evaluator(template)
    const { statements, managed } = functionRole(evaluator)
    const mappings = Object.values(template.Resources).filter(r => r.Type === 'AWS::Lambda::EventSourceMapping')
    t.ok(
      mappings.some(r => JSON.stringify(r.Properties.EventSourceArn).includes('StreamArn')),
      'a mapping reads a table stream'
    )
    t.ok(
      managed.some(arn => JSON.stringify(arn).includes('service-role/AWSLambdaDynamoDBExecutionRole')),
      'the role may read streams'
    )
    const sends = mappingOperations(evaluator)
    t.ok(sends.length > 0, 'failed records have somewhere to go')
    for (const op of sends) t.ok(allows(statements, op.action, op.arn), `${op.mapping} needs ${op.action} on ${op.arn}`)
  }
)

t.test('the policy grants no write action the code does not use', { skip: unavailable }, async t => {
  const { operations } = codeOperations()
  const evaluator = new Evaluator(template)
  const { statements } = functionRole(evaluator)
  const used = [
    ...operations.map(op => ({ action: op.action, arn: resourceArn(evaluator, op) })),
    ...mappingOperations(evaluator)
  ]
  for (const statement of statements) {
    for (const action of statement.Action.filter(a => !READ_ONLY.test(a))) {
      for (const resource of statement.Resource) {
        const needed = used.some(u => iamMatches(action, u.action, true) && iamMatches(resource, u.arn))
        t.ok(
          needed,
          `${statement.Sid ?? 'a statement'} grants ${action} on ${resource}, which neither code in src/ nor an event source mapping uses`
        )
      }
    }
  }
})

t.test(
  'API keys: the function may read the one secret or parameter it is told of, and nothing when none',
  { skip: unavailable },
  async t => {
    const secretsOf = (parameter: string): Statement[] =>
      functionRole(new Evaluator(template, { ApiKeysSecretName: parameter })).statements.filter(s =>
        s.Action.some(a => /^(secretsmanager|ssm):/i.test(a))
      )
    const { 'AWS::Region': region, 'AWS::AccountId': account } = PSEUDO
    t.same(secretsOf(''), [], 'no secret named: no access to any')
    const secret = secretsOf('atlas/api-keys')
    t.ok(
      allows(
        secret,
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${region}:${account}:secret:atlas/api-keys-AbC123`
      ),
      'the named secret (with its random suffix)'
    )
    t.notOk(
      allows(
        secret,
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${region}:${account}:secret:atlas/other-AbC123`
      ),
      'no other secret'
    )
    const parameter = secretsOf('ssm:/atlas/api-keys')
    t.ok(
      allows(parameter, 'ssm:GetParameter', `arn:aws:ssm:${region}:${account}:parameter/atlas/api-keys`),
      'the named SSM parameter'
    )
    t.notOk(
      allows(
        parameter,
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${region}:${account}:secret:ssm-AbC123`
      ),
      'and no secret'
    )
  }
)

t.test(
  'sync: the function may write the buckets SyncAllowedBuckets names besides its own, and no others',
  { skip: unavailable },
  async t => {
    const statements = functionRole(new Evaluator(template, { SyncAllowedBuckets: 'backup-a,backup-b' })).statements
    for (const bucket of ['backup-a', 'backup-b']) {
      t.ok(allows(statements, 's3:PutObject', `arn:aws:s3:::${bucket}/vaults/v1/note.md`), `objects of ${bucket}`)
      t.ok(allows(statements, 's3:GetObjectVersion', `arn:aws:s3:::${bucket}/vaults/v1/note.md`), 'their versions')
      t.ok(allows(statements, 's3:ListBucketVersions', `arn:aws:s3:::${bucket}`), 'their listing of versions')
    }
    t.notOk(allows(statements, 's3:PutObject', 'arn:aws:s3:::backup-c/vaults/v1/note.md'), 'not another bucket')
    t.notOk(allows(statements, 's3:ListBucketVersions', 'arn:aws:s3:::backup-c'), "nor another bucket's versions")
    const none = functionRole(new Evaluator(template)).statements
    t.notOk(allows(none, 's3:PutObject', 'arn:aws:s3:::backup-a/vaults/v1/note.md'), 'none named: none besides its own')
  }
)
