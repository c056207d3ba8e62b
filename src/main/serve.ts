import { defaultDataDir } from '../platform/data-dir.js';
import { newProgram, runProgram } from '../cli/program.js';
import { loadServerSettings, startServer } from './server.js';

/** `stratus serve`: the Marketplace (and, later, pdisk and compute) in one process. */
export default async function main(argv: string[]): Promise<number> {
  const program = newProgram('stratus serve', 'Run the Stratus server: Marketplace REST API and web UI, with state in SQLite under the data dir (or PostgreSQL).', { userConfig: false })
    .option('--data-dir <dir>', 'where state lives (env STRATUS_DATA_DIR)', defaultDataDir())
    .option('--host <addr>', 'address to listen on (default 127.0.0.1, loopback only)')
    .option('--port <n>', 'port to listen on (default 9204; 0 picks a free port)')
    .option('--database <url>', 'SQLite file or postgres://… URL (default <data-dir>/stratus.db)')
    .option('--config <file>', 'server configuration (default <data-dir>/stratus.cfg)')
    .option('--log', 'log every request as JSON lines')
    .option('--network <mode>', 'instance networking: auto (a bridge when run as root), bridge, user, or none (no cloud service); default [network] mode')
    .option('--booted-bases <on|off>', 'whether stratus-create-image\'s VMs resume booted bases (an image booted once and saved running); default [instances] booted_bases, on')
    .addHelpText('after', `
Server configuration: <data-dir>/stratus.cfg (INI; docs/api.md has every key). Sections:
  [server]       host, port, database, public_url, tls_cert, tls_key, identity_name,
                 identity_email, connection, timeout and login limits
  [marketplace]  max_metadata_bytes, trust_endorsers, trust_ca_bundle, verify_threads,
                 max_created_ahead_seconds, body_memory_mib, anonymous_uploads_per_hour,
                 validate_email (true|false, default false: uploads by endorsers outside the
                 trust policy wait for confirmation by e-mail), pending_upload_hours (24),
                 admin_email (abuse reports), endorser_reminder (true|false, default false)
  [pdisk]        volumes_dir, fsync, max_volume_gib
  [mail]         host, port, security, user, password, from, ca_file, timeout_s
                 (without host, mail goes to <data-dir>/outbox/)
  [instances], [network]  the cloud service`)
    .action(async (o: { dataDir: string; host?: string; port?: string; database?: string; config?: string; log?: boolean; network?: string; bootedBases?: string }) => {
      const settings = loadServerSettings({
        dataDir: o.dataDir,
        ...(o.host ? { host: o.host } : {}),
        ...(o.port !== undefined ? { port: Number(o.port) } : {}),
        ...(o.database ? { database: o.database } : {}),
        ...(o.config ? { config: o.config } : {}),
        logger: o.log ?? false,
        ...(o.network ? { network: o.network } : {}),
        ...(o.bootedBases !== undefined ? { bootedBases: o.bootedBases } : {}),
      });
      const server = await startServer(settings);
      // Notices first: whoever waits for the "serving" line then has all of them.
      for (const n of server.notices) process.stdout.write(n + '\n');
      if (settings.trust) process.stdout.write('Trust policy: on\n');
      process.stdout.write(`Stratus serving ${server.url}/ (data dir ${settings.dataDir})\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          void server.close().then(resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
  return runProgram(program, argv);
}
