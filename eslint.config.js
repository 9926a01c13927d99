import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', '.aws-sam/', '.emulators/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', fetch: 'readonly' }
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['@fastify/autoload'], message: 'Register plugins and routes by explicit import: the Lambda bundle must see every module.' }]
      }]
    }
  },
  {
    // Plain Node ESM build, smoke and bench scripts.
    files: ['scripts/**/*.mjs'],
    languageOptions: {
      globals: { performance: 'readonly', URLSearchParams: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' }
    }
  },
  {
    files: ['src/routes/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['@aws-sdk/*'], message: 'Routes never import the AWS SDK: go through a repository.' }]
      }]
    }
  },
  {
    files: ['src/repositories/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['fastify', '@fastify/*'], message: 'Repositories never see Fastify: they take clients and names.' }]
      }]
    }
  }
)
