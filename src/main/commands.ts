/** A command module: its default export parses argv and returns the exit status. */
export interface CommandModule {
  default(argv: string[]): Promise<number>;
}

/**
 * Every command, loaded lazily so that starting one command does not load them all.
 * The keys are the names after `stratus-`; package.json "bin" lists the same names.
 */
export const commands: Record<string, () => Promise<CommandModule>> = {
  serve: () => import('./serve.js'),
  'build-metadata': () => import('../cli/commands/build-metadata.js'),
  'sign-metadata': () => import('../cli/commands/sign-metadata.js'),
  'validate-metadata': () => import('../cli/commands/validate-metadata.js'),
  'upload-metadata': () => import('../cli/commands/upload-metadata.js'),
  'deprecate-metadata': () => import('../cli/commands/deprecate-metadata.js'),
  'list-images': () => import('../cli/commands/list-images.js'),
  'search-image': () => import('../cli/commands/search-image.js'),
  'show-image': () => import('../cli/commands/show-image.js'),
  manifest: () => import('../cli/commands/manifest.js'),
  'generate-p12': () => import('../cli/commands/generate-p12.js'),
  'build-base-image': () => import('../cli/commands/build-base-image.js'),
  'upload-image': () => import('../cli/commands/upload-image.js'),
  'download-image': () => import('../cli/commands/download-image.js'),
  'describe-volumes': () => import('../cli/commands/describe-volumes.js'),
  'create-volume': () => import('../cli/commands/create-volume.js'),
  'update-volume': () => import('../cli/commands/update-volume.js'),
  'delete-volume': () => import('../cli/commands/delete-volume.js'),
  'prepare-context': () => import('../cli/commands/prepare-context.js'),
  'run-instance': () => import('../cli/commands/run-instance.js'),
  'describe-instance': () => import('../cli/commands/describe-instance.js'),
  'kill-instance': () => import('../cli/commands/kill-instance.js'),
  'shutdown-instance': () => import('../cli/commands/shutdown-instance.js'),
  'connect-instance': () => import('../cli/commands/connect-instance.js'),
  'create-image': () => import('../cli/commands/create-image.js'),
  'convert-image': () => import('../cli/commands/convert-image.js'),
  'check-image': () => import('../cli/commands/check-image.js'),
  'attach-volume': () => import('../cli/commands/attach-volume.js'),
  'detach-volume': () => import('../cli/commands/detach-volume.js'),
  user: () => import('../cli/commands/user.js'),
};

/**
 * The commands run only as `stratus <name>`, with no stratus-<name> link in package.json
 * "bin": neither the server nor account admin is a StratusLab command.
 */
export const NO_LINK: ReadonlySet<string> = new Set(['serve', 'user']);
