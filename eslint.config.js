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
    // Imports run one way, from the entries down: only an entry builds the app or imports another entry.
    files: ['src/**/*.ts'],
    ignores: ['src/entries/**', 'src/routes/**', 'src/repositories/**', 'src/sync/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(entries/|app(\\.ts)?$)|^\\./(entries/|app(\\.ts)?$)',
              message: 'Only entries (src/entries) build the app; nothing imports an entry.'
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
  },
  {
    files: ['src/sync/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', '@fastify/*'],
              message: 'The sync engine never sees Fastify: the routes and the Lambda handler call it.'
            },
            {
              regex: '^(\\.\\./)+(routes|plugins|entries)(/|$)|^(\\.\\./)+app(\\.ts)?$',
              message:
                'The sync engine never imports the HTTP layer (routes, plugins, app) or an entry: they import it.'
            }
          ]
        }
      ]
    }
  },
  {
    // The Obsidian client stands alone: only Node, its own files and its protocol's libraries.
    files: ['src/sync/obsidian/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify', '@fastify/*', '@aws-sdk/*'],
              message: 'The Obsidian client never sees Fastify or AWS: the sync engine connects it to them.'
            },
            {
              // package.json is allowed: the client's user agent carries the app's version, inlined when bundled.
              regex: '^\\.\\./(?!(\\.\\./)*package\\.json$)',
              message: 'The Obsidian client imports nothing outside src/sync/obsidian.'
            }
          ]
        }
      ]
    }
  }
)
