import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'scripts/client-check/api.d.ts',
      'src/precompiled/schemas.cjs',
      'node_modules/',
      '.data/',
      '.aws-sam/',
      '.emulators/',
      '.tap/'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@fastify/autoload'],
              message: 'Register plugins and routes by explicit import: the Lambda bundle must see every module.'
            }
          ]
        }
      ]
    }
  },
  {
    files: ['src/routes/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['@aws-sdk/*'], message: 'Routes never import the AWS SDK: go through a repository.' }]
        }
      ]
    }
  },
  {
    files: ['src/repositories/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', '@fastify/*'],
              message: 'Repositories never see Fastify: they take clients and names.'
            }
          ]
        }
      ]
    }
  }
)
