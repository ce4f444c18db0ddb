/** `cuju-sim --help`: what it simulates and, as plainly, what it does not. */
export const HELP = `cuju-sim: a stand-in for Cuju's qemu-system-x86_64 (QEMU 2.8.0 + Cuju FT)

usage: cuju-sim [-sim-build master|groupft|blk-server] [QEMU/Cuju options] [-sim-* options]

It takes Cuju's command line as the seed scripts write it, presents Cuju's monitors and
stdout markers, and runs Cuju's FT control flow over real TCP, as one Cuju build does:

  -sim-build master      21f9f0b, the default branch (default): plain FT pairs,
                         cuju-migrate-cancel, cuju-get-ft-mode, cuju-get-ft-started;
                         \`migrate -c\` sets cuju-ft itself; no -ft-join-port, -gft-id, -blk-server*
  -sim-build groupft     d2e55fe (PR #42/#43): gft_* commands, -ft-join-port port,
                         -gft-id gft_id; every VM binds its join port (default 5000) and
                         aborts when it cannot; GFT STATUS PRE/WAIT; GFT_RESYNC off
  -sim-build blk-server  4b17b51 (PR #27): -blk-server ip:port, -blk-server-listen p,
                         gft_add_host/gft_init, a print-only cuju-failover, \`... N ms.\`
                         a block server (\`block server init\`, \`accepted blk client N.\`)
                         and its clients (\`client_ret:N\`; a backup connects when it
                         takes over); a lost block server is a stderr line, no exit

It runs NO guest: no CPU, no memory copy, no disk, no network device, no KVM. Epochs carry
a few empty bytes; "failover" means the backup's monitor and stdout behave as Cuju's do.

Simulated:
  options   -drive -device -m -smp -cpu -vga -display -enable-kvm -net tap/nic -netdev
            -name -daemonize -pidfile -S -nodefaults (accepted; no device is created)
            -chardev socket,...,server,nowait | server=on,wait=off
            -mon chardev=ID,mode=readline|control   -qmp ADDR   -monitor ADDR
            -incoming tcp:HOST:PORT[,ft_mode], and the build's own options (above)
  HMP       QEMU 2.8 readline monitor: banner, (qemu) prompt, echo with redraw; the
            build's command table and help texts; info status, migrate,
            migrate_capabilities, version, name, kvm; stop, cont, quit, help
  QMP       2.8.0 greeting, negotiation, query-status, query-migrate,
            query-migrate-capabilities, migrate-set-capabilities, migrate (cuju),
            the build's cuju-* commands, human-monitor-command, stop, cont, quit,
            query-version, query-commands, query-qmp-schema
  FT        4 TCP links to the backup's -incoming port (24-byte headers), the initial
            copy with the VM stopped, the backup's ACK, 5 ms epochs over two
            MigrationStates; failover on link loss; the cancel exchange (master);
            cuju-failover / cuju-migrate-cancel where Cuju would crash: SIGSEGV; a new
            monitor client while FT runs: SIGSEGV (Cuju issue #13)
  GFT       (groupft) join ports, the leader's table, gft_init, member links, member
            failure (the surviving primaries exit(-1), their backups take over)
  stdout    each build's markers (Enter FT mode, enter cuju FT mode (incoming), ...)

Not simulated: guest execution, memory and disk replication, block server I/O, tap
devices, the watchdog branch, GFT per-epoch barriers, migration over unix:/exec:/fd:.

Fault injection (cuju-sim only; real Cuju has none of these):
  -sim-monitor-delay MS        hold every monitor reply MS milliseconds
  -sim-stall-greeting          accept monitor clients but never greet them
  -sim-drop-ft-links-after MS  cut the FT links MS after FT started (a network failure)
  -sim-crash-at STEP           die (SIGKILL) at ft-connect, ft-initial-sync,
                               ft-first-epoch, gft-init or gft-join
  -sim-slow-epoch MS           make every epoch MS longer
  -sim-usr2-drops-ft-links     SIGUSR2 cuts the FT links (the process runs on)
  -sim-stdout-buffered         block-buffer stdout (4096 bytes; flushed at exit, lost
                               in a crash), as a binary without line buffering would
`;
