// Lint rules: typescript-eslint recommended, plus layer boundaries from docs/architecture.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folders each layer must not import (relative import patterns). */
const forbidden = {
  domain: ['mail', 'platform', 'metadata', 'storage', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'cloud'],
  platform: ['mail', 'metadata', 'storage', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'cloud'],
  metadata: ['mail', 'storage', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'cloud'],
  storage: ['mail', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'cloud'],
  marketplace: ['context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'volumes', 'accounts', 'cloud'],
  accounts: ['metadata', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'volumes', 'cloud'],
  volumes: ['metadata', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'cloud'],
  compute: ['marketplace', 'api', 'cli', 'web', 'main', 'cloud'],
  network: ['metadata', 'storage', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'accounts', 'volumes', 'cloud'],
  images: ['storage', 'marketplace', 'context', 'compute', 'notify', 'api', 'cli', 'web', 'main', 'accounts', 'volumes', 'cloud'],
  context: ['storage', 'marketplace', 'compute', 'images', 'api', 'client', 'cli', 'web', 'main', 'accounts', 'volumes', 'cloud'],
  client: ['mail', 'platform', 'metadata', 'storage', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'cli', 'web', 'main', 'volumes', 'accounts', 'cloud'],
  // cloud: run requests, the image cache in pdisk and quarantine, over compute's InstanceService.
  cloud: ['marketplace', 'api', 'cli', 'web', 'main', 'network'],
  // mail: the SMTP and outbox mailers and the messages; services get a Mailer from main/.
  mail: ['metadata', 'storage', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'client', 'cli', 'web', 'main', 'accounts', 'volumes', 'cloud', 'network'],
  // api renders pages with web/'s pure functions (server-side HTML; docs/architecture.md).
  api: ['storage', 'cli', 'main'],
  web: ['mail', 'platform', 'metadata', 'storage', 'marketplace', 'context', 'compute', 'images', 'notify', 'api', 'cli', 'main', 'cloud'],
  cli: ['storage', 'marketplace', 'compute', 'api', 'web', 'main', 'volumes', 'accounts', 'cloud'],
};

/** Folders a layer may use only through their public surface, <folder>/index.ts. */
const publicOnly = {
  cli: ['images'],
  compute: ['images'],
  cloud: ['images'],
};

const ups = ['../', '../../', '../../../'];
const boundaryBlocks = Object.entries(forbidden).map(([layer, banned]) => ({
  files: [`src/${layer}/**/*.ts`],
  ignores: [`src/${layer}/**/*.test.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...banned.map((b) => ({ group: ups.map((u) => `${u}${b}/*`), message: `${layer}/ may not import ${b}/ (see docs/architecture.md)` })),
        ...(publicOnly[layer] ?? []).map((b) => ({
          group: [...ups.map((u) => `${u}${b}/*`), ...ups.map((u) => `!${u}${b}/index.js`)],
          message: `${layer}/ may import ${b}/ only through ${b}/index.ts, not its internals (see docs/architecture.md)`,
        })),
      ],
    }],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/web/assets/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  ...boundaryBlocks,
);
