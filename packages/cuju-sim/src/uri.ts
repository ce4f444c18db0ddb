/**
 * `tcp:HOST:PORT[,options]` as QEMU's inet_parse reads a migration URI. Cuju's scripts
 * put text after the port (`tcp:IP:PORT,` and `tcp:IP:PORT,ft_mode`) and it still works.
 */
export function parseTcpUri(uri: string): { host: string; port: number } | undefined {
  if (!uri.startsWith('tcp:')) return undefined;
  const rest = uri.slice(4).split(',')[0] ?? '';
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(rest);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' || host === '0' ? '0.0.0.0' : host, port };
}
