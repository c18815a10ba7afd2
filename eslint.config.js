// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const publicOnly = {
  patterns: [
    {
      group: ['**/src/*', '**/src/**', '../../src/*', '../src/*'],
      message: 'Import the public package name "virtkit" instead of core internals.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'temp/**', 'coverage/**', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "Property[key.name='shell'][value.value=true]",
          message: 'Never run commands through a shell: use execFile/spawn with an argument array.',
        },
      ],
    },
  },
  {
    files: [
      'drivers/**/*.ts',
      'qmp/**/*.ts',
      'examples/**/*.ts',
      'test/conformance/**/*.ts',
      'bench/**/*.ts',
    ],
    rules: { 'no-restricted-imports': ['error', publicOnly] },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
);
