#!/usr/bin/env python3
"""The AWS side of `npm run deploy:rehearse`, with the libraries `sam deploy`
itself stands on: AWS's SAM translator turns template.yaml into the
CloudFormation it would submit, and boto3 submits it, here to a moto server.

    stack.py translate [--code-uri s3://bucket/key] [--template template.yaml]
        prints the translated template (JSON)
    stack.py deploy --endpoint URL --code DIR [--stack NAME] [--param Key=Value ...]
        zips DIR as `sam package` would, uploads it, creates the stack from the
        translated template and prints what was created (JSON), every
        function's configuration and every dashboard's body (as CloudWatch holds it) included

Reads template.yaml from the repository root by default. Needs Python 3 with
aws-sam-translator and boto3 (moto brings boto3).
"""
import argparse
import io
import json
import os
import sys
import time
import zipfile

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


class NoManagedPolicies:
    """SAM looks managed policy names up in IAM; the template names none by name alone."""

    def load(self):
        return {}


def translate(template_path, code_uri):
    with open(template_path, encoding='utf-8') as f:
        template = yaml_parse(f.read())
    for resource in template.get('Resources', {}).values():
        if resource.get('Type') == 'AWS::Serverless::Function':
            resource.setdefault('Properties', {})['CodeUri'] = code_uri
    os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1')
    return transform(template, {}, NoManagedPolicies())


def zipped(directory):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for base, _, files in os.walk(directory):
            for name in sorted(files):
                path = os.path.join(base, name)
                archive.write(path, os.path.relpath(path, directory))
    return buffer.getvalue()


def deploy(args):
    import boto3
    options = dict(endpoint_url=args.endpoint, region_name=args.region,
                   aws_access_key_id='rehearsal', aws_secret_access_key='rehearsal')
    s3 = boto3.client('s3', **options)
    cloudformation = boto3.client('cloudformation', **options)
    lambda_ = boto3.client('lambda', **options)

    bucket, key = f'{args.stack}-artifacts', 'function.zip'
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=zipped(args.code))
    template = translate(args.template, f's3://{bucket}/{key}')
    parameters = [{'ParameterKey': k, 'ParameterValue': v} for k, v in (p.split('=', 1) for p in args.param)]
    cloudformation.create_stack(StackName=args.stack, TemplateBody=json.dumps(template), Parameters=parameters,
                                Capabilities=['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND'])
    deadline = time.time() + 120
    while True:
        stack = cloudformation.describe_stacks(StackName=args.stack)['Stacks'][0]
        if not stack['StackStatus'].endswith('_IN_PROGRESS') or time.time() > deadline:
            break
        time.sleep(0.5)
    resources = cloudformation.list_stack_resources(StackName=args.stack)['StackResourceSummaries']
    functions = {}
    for resource in resources:
        if resource['ResourceType'] == 'AWS::Lambda::Function':
            config = lambda_.get_function_configuration(FunctionName=resource['PhysicalResourceId'])
            functions[resource['LogicalResourceId']] = {
                'name': config['FunctionName'], 'runtime': config.get('Runtime'), 'handler': config.get('Handler'),
                'memory': config.get('MemorySize'), 'timeout': config.get('Timeout'),
                'architectures': config.get('Architectures'),
                'environment': {k: str(v) for k, v in config.get('Environment', {}).get('Variables', {}).items()},
            }
    cloudwatch = boto3.client('cloudwatch', **options)
    dashboards = {r['LogicalResourceId']: cloudwatch.get_dashboard(DashboardName=r['PhysicalResourceId'])['DashboardBody']
                  for r in resources
                  if r['ResourceType'] == 'AWS::CloudWatch::Dashboard' and r['ResourceStatus'] == 'CREATE_COMPLETE'}
    json.dump({
        'status': stack['StackStatus'], 'reason': stack.get('StackStatusReason'),
        'resources': [{'logicalId': r['LogicalResourceId'], 'type': r['ResourceType'],
                       'physicalId': r.get('PhysicalResourceId'), 'status': r['ResourceStatus']} for r in resources],
        'outputs': {o['OutputKey']: o.get('OutputValue') for o in stack.get('Outputs', [])},
        'functions': functions,
        'dashboards': dashboards,
        'template': template,
    }, sys.stdout, default=str)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    t = commands.add_parser('translate')
    t.add_argument('--template', default=os.path.join(ROOT, 'template.yaml'))
    t.add_argument('--code-uri', default='s3://rehearsal-artifacts/function.zip')
    d = commands.add_parser('deploy')
    d.add_argument('--template', default=os.path.join(ROOT, 'template.yaml'))
    d.add_argument('--endpoint', required=True)
    d.add_argument('--code', required=True)
    d.add_argument('--stack', default='atlas-rehearsal')
    d.add_argument('--region', default='us-east-1')
    d.add_argument('--param', action='append', default=[])
    args = parser.parse_args()
    if args.command == 'translate':
        json.dump(translate(args.template, args.code_uri), sys.stdout, default=str)
    else:
        deploy(args)


if __name__ == '__main__':
    main()
