/** `cuju-sim --help`: what it simulates and, as plainly, what it does not. */
export const HELP = `cuju-sim: a stand-in for Cuju's qemu-system-x86_64 (QEMU 2.8.1 + Cuju FT/GFT)

usage: cuju-sim [QEMU/Cuju options] [-sim-* options]

It takes Cuju's command line as the seed scripts write it, presents Cuju's monitors and
stdout markers, and runs Cuju's FT and GFT control flow over real TCP. It runs NO guest:
no CPU, no memory copy, no disk, no network device, no KVM. Epochs carry a few empty
bytes; "failover" means the backup's monitor and stdout behave as Cuju's do.

Simulated:
  options   -drive -device -m -smp -cpu -vga -display -enable-kvm -net tap/nic -netdev
            -name -daemonize -pidfile -S -nodefaults (accepted; no device is created)
            -chardev socket,...,server,nowait | server=on,wait=off
            -mon chardev=ID,mode=readline|control   -qmp ADDR   -monitor ADDR
            -incoming tcp:HOST:PORT[,ft_mode]   -ft-join-port N   -gft-id N
            -blk-server IP:PORT   -blk-server-listen [IP]:PORT (accepted only)
  HMP       QEMU 2.8 readline monitor: banner, (qemu) prompt, echo with redraw;
            migrate [-d] [-b] [-i] [-c], migrate_set_capability (cuju-ft), info status,
            info migrate (GFT STATUS line), info migrate_capabilities, info version,
            cuju-failover, cuju-adjust-epoch, cuju-migrate-cancel, cuju-get-ft-mode,
            cuju-get-ft-started, gft_add_host, gft_add_host2, gft_init, gft_add_member,
            gft_add_backup, gft_member_live_mig, migrate_pause, migrate_resume,
            info_migrate, stop, cont, quit, help
  QMP       2.8.1 greeting, negotiation, query-status, query-migrate,
            query-migrate-capabilities, migrate-set-capabilities, migrate (cuju),
            cuju-failover, cuju-adjust-epoch, cuju-migrate-cancel, human-monitor-command,
            stop, cont, quit, query-version, query-commands, query-qmp-schema
  FT        4 TCP links to the backup's -incoming port, initial sync (STOP/RESUME,
            MIGRATION events with the events capability), 5 ms epochs; failover on
            link loss (cuju_ft_trans_close ... vm_started., RESUME, status running)
  GFT       join-port listeners, the leader's table, gft_init, GFT STATUS PRE/START/WAIT,
            member failure with GFT_RESYNC off (survivors exit) or on (-sim-gft-resync on)
  stdout    Cuju's markers (Enter FT mode, enter cuju FT mode (incoming), ...)

Not simulated: guest execution, memory and disk replication, block server I/O, tap
devices, the watchdog variant, GFT per-epoch barriers, migration over unix:/exec:/fd:.

Fault injection (cuju-sim only; real Cuju has none of these):
  -sim-gft-resync on|off       GFT member-failure behaviour (default off, as Cuju master)
  -sim-monitor-delay MS        hold every monitor reply MS milliseconds
  -sim-stall-greeting          accept monitor clients but never greet them
  -sim-drop-ft-links-after MS  cut the FT links MS after FT started (a network failure)
  -sim-crash-at STEP           die (SIGKILL) at ft-connect, ft-initial-sync,
                               ft-first-epoch, gft-init or gft-join
  -sim-slow-epoch MS           make every epoch MS longer
`;
