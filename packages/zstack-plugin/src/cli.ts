#!/usr/bin/env node
/**
 * `cuju-fts --config service.json`: runs the FT service with the FtPair driver. The
 * config (JSON) names the store, where to listen, the hosts and the Cuju builds; the
 * bearer token comes from the FTS_TOKEN environment variable (never from a file that
 * gets logged or a command line that `ps` shows). An optional `zstack` section adds the
 * ZStack adapter (its password from the environment variable `passwordEnv` names).
 */
import { readFileSync } from 'node:fs';
import { type Host, LocalHost, SshHost } from '@cuju/sdk';
import { z } from 'zod';
import { FtPairDriver } from './drivers/ftpair-driver.js';
import { FtServiceError } from './errors.js';
import { ZStackAdapter, zstackBackupName } from './iaas/zstack/adapter.js';
import { Host as HostSchema, parseAt } from './model.js';
import { FtService } from './service.js';

const Config = z
  .object({
    store: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('sqlite'), path: z.string().min(1) }),
      z.object({ kind: z.literal('postgres'), connectionString: z.string().min(1) }),
    ]),
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8740),
      })
      .default({ host: '127.0.0.1', port: 8740 }),
    instanceId: z.string().min(1).optional(),
    publicUrl: z.string().url().optional(),
    runDir: z.string().min(1).default('/run/cuju-fts'),
    builds: z.record(
      z.string(),
      z.object({ path: z.string().min(1), args: z.array(z.string()).default([]) }),
    ),
    hosts: z.array(
      HostSchema.extend({
        /** `local`, or SSH: user@address:port with a private key file. */
        via: z
          .discriminatedUnion('kind', [
            z.object({ kind: z.literal('local') }),
            z.object({
              kind: z.literal('ssh'),
              username: z.string().min(1),
              port: z.number().int().default(22),
              privateKeyPath: z.string().min(1),
              knownHostsPath: z.string().min(1),
            }),
          ])
          .default({ kind: 'local' }),
      }),
    ),
    /** The ZStack adapter: the FT checkbox as the `cuju::ft` user tag. */
    zstack: z
      .object({
        url: z.string().url(),
        accountName: z.string().min(1),
        /** The environment variable holding the account's password. */
        passwordEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/)
          .default('ZSTACK_PASSWORD'),
        webhook: z
          .union([
            z.literal(false),
            z
              .object({
                host: z.string().min(1).optional(),
                port: z.number().int().min(0).max(65_535).optional(),
                publicUrl: z.string().url().optional(),
              })
              .strict(),
          ])
          .optional(),
        /** CreateVmInstance's image and networks: the console's create form then creates VMs in ZStack. */
        create: z
          .object({
            imageUuid: z.string().min(1),
            l3NetworkUuids: z.array(z.string().min(1)).min(1),
            instanceOfferingUuid: z.string().min(1).optional(),
            cpuNum: z.number().int().min(1).optional(),
          })
          .strict()
          .optional(),
        pollMs: z.number().int().min(200).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--config');
  if (i === -1 || !argv[i + 1]) {
    process.stderr.write('usage: cuju-fts --config service.json   (token in FTS_TOKEN)\n');
    process.exitCode = 2;
    return;
  }
  const config = parseAt(Config, JSON.parse(readFileSync(argv[i + 1]!, 'utf8')), 'config');
  const hosts = new Map<string, Host>();
  for (const h of config.hosts) {
    hosts.set(
      h.name,
      h.via.kind === 'local'
        ? new LocalHost({ address: h.address })
        : await SshHost.connect({
            host: h.address,
            port: h.via.port,
            username: h.via.username,
            privateKey: readFileSync(h.via.privateKeyPath),
            hostKey: { knownHostsPath: h.via.knownHostsPath },
          }),
    );
  }
  const zs = config.zstack;
  let zstack: ZStackAdapter | undefined;
  if (zs) {
    const password = process.env[zs.passwordEnv];
    if (!password) {
      throw new FtServiceError('FTS_CONFIG', `config.zstack.passwordEnv: ${zs.passwordEnv} is not set`, {
        field: 'config.zstack.passwordEnv',
      });
    }
    zstack = new ZStackAdapter({
      zstack: { url: zs.url, accountName: zs.accountName, password },
      ...(zs.webhook !== undefined ? { webhook: zs.webhook } : {}),
      ...(zs.create ? { create: zs.create } : {}),
    });
  }
  const driver = new FtPairDriver({
    hosts,
    builds: config.builds,
    runDir: config.runDir,
    ...(zstack ? { backupName: zstackBackupName } : {}),
  });
  const service = await FtService.start({
    ...(zstack
      ? {
          adapters: [zstack],
          ...(zs?.create ? { createVia: zstack } : {}),
          ...(zs?.pollMs ? { iaas: { pollMs: zs.pollMs } } : {}),
        }
      : {}),
    store: config.store,
    driver,
    hosts: config.hosts.map(({ via: _via, ...h }) => h),
    listen: config.listen,
    ...(process.env.FTS_TOKEN ? { token: process.env.FTS_TOKEN } : {}),
    ...(config.instanceId ? { instanceId: config.instanceId } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
  });
  process.stdout.write(`FT service at ${service.url}\n`);
  const stop = () => void service.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(
    `cuju-fts: ${err instanceof FtServiceError ? `${err.code}: ` : ''}${(err as Error).message}\n`,
  );
  process.exitCode = 1;
});
