#!/usr/bin/env bash
# Prepares a primary or backup host the way the ITRI set-up guide does (set-net2.sh,
# set-vmft.sh, the NFS mount), each step opt-in by flag and safe to run again.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: host-prep.sh STEP... [options]

Steps (each opt-in; give at least one; each is skipped where already done):
  --tap NAME          a tap device for a VM's -net tap,ifname=NAME: created (owned by
                      --tap-user), promiscuous, up and attached to the bridge
                      (repeatable: --tap tap0 --tap tap1)
  --cpuset CPUS       the guide's cpuset cgroup: the cpuset controller mounted at
                      --cgroup-dir, a group --cgroup-name with cpuset.cpus=CPUS (e.g. 7
                      or 2-3), cpuset.cpu_exclusive=1, cpuset.mems=--cpuset-mems
  --nfs SERVER:PATH   the NFS export holding the image and the Cuju tree, mounted at
                      --nfs-mount

Options:
  --bridge NAME       the bridge for --tap (default br0; the guide bridges eth0 into it)
  --create-bridge     create the bridge when it does not exist (an empty bridge: adding
                      the uplink is left to you, since doing it over SSH would cut the
                      connection)
  --tap-user USER     the tap devices' owner (default: $SUDO_USER, else root)
  --cgroup-dir DIR    where the cpuset controller is mounted (default /dev/cgroup)
  --cgroup-name NAME  the group (default vmft)
  --cpuset-mems N     cpuset.mems (default 0)
  --nfs-mount DIR     the mount point (default /mnt/nfs)
  --nfs-options OPTS  mount -o OPTS for the NFS mount
  --dry-run           print every command that would run and run none; prerequisites
                      are still checked: what is missing is listed as warnings, the
                      plan is printed whole anyway, and the exit status says so (3)
  --help              this text

Needs root. The cpuset step needs the cgroup v1 cpuset controller (Ubuntu 16.04/18.04);
on a cgroup v2 host mounting it fails and the script says so.

Exit status: 0 done; 1 a step failed; 2 bad usage; 3 prerequisites missing (nothing
was done). With --dry-run: 0 the plan is printed and a real run here would start; 3 the
plan is printed but a real run here would refuse (what is missing is on stderr); 2 bad
usage.
EOF
}

taps=()
bridge=br0
create_bridge=0
tap_user=${SUDO_USER:-root}
cpus=''
cgroup_dir=/dev/cgroup
cgroup_name=vmft
mems=0
nfs=''
nfs_mount=/mnt/nfs
nfs_options=''
bridge_given=''
tap_user_given=''
cpuset_option_given=''
nfs_option_given=''

IFNAME='^[A-Za-z0-9_.-]{1,15}$'
IFNAME_IS='an interface name (letters, digits, _ . -, at most 15)'
LIST='^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$'
while (($# > 0)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" && continue ;;
    --tap) need_value_matching "$IFNAME" "$IFNAME_IS" "$@"; taps+=("$2"); shift ;;
    --bridge) need_value_matching "$IFNAME" "$IFNAME_IS" "$@"; bridge=$2; bridge_given=1; shift ;;
    --create-bridge) create_bridge=1 ;;
    --tap-user) need_value "$@"; tap_user=$2; tap_user_given=1; shift ;;
    --cpuset) need_value_matching "$LIST" 'a CPU list (like 7, 2-3 or 0,4-5)' "$@"; cpus=$2; shift ;;
    --cgroup-dir) need_value "$@"; cgroup_dir=$2; cpuset_option_given=1; shift ;;
    --cgroup-name) need_value_matching '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' 'a plain directory name' "$@"; cgroup_name=$2; cpuset_option_given=1; shift ;;
    --cpuset-mems) need_value_matching "$LIST" 'a memory node list (like 0)' "$@"; mems=$2; cpuset_option_given=1; shift ;;
    --nfs) need_value_matching '^[^:[:space:]]+:/[^[:space:]]*$' 'SERVER:/PATH' "$@"; nfs=$2; shift ;;
    --nfs-mount) need_value "$@"; nfs_mount=$2; nfs_option_given=1; shift ;;
    --nfs-options) need_value "$@"; nfs_options=$2; nfs_option_given=1; shift ;;
    *) common_option "$1" ;;
  esac
  shift
done

((${#taps[@]} > 0)) || [ -n "$cpus" ] || [ -n "$nfs" ] ||
  usage_error "nothing to do: give at least one step (--tap NAME, --cpuset CPUS, --nfs SERVER:PATH)"
# Options of a step that was not asked for would be silently ignored: refuse them.
if ((${#taps[@]} == 0)) && { [ -n "$bridge_given" ] || ((create_bridge)) || [ -n "$tap_user_given" ]; }; then
  usage_error "--bridge, --create-bridge and --tap-user go with --tap"
fi
if [ -z "$cpus" ] && [ -n "$cpuset_option_given" ]; then
  usage_error "--cgroup-dir, --cgroup-name and --cpuset-mems go with --cpuset"
fi
if [ -z "$nfs" ] && [ -n "$nfs_option_given" ]; then
  usage_error "--nfs-mount and --nfs-options go with --nfs"
fi
cgroup_dir=$(realpath -m -- "$cgroup_dir")
nfs_mount=$(realpath -m -- "$nfs_mount")

require_root "host-prep.sh changes network devices, cgroups and mounts"
if ((${#taps[@]} > 0)); then
  require_tool ip iproute2
  if command -v ip >/dev/null 2>&1 && ! ip link show dev "$bridge" >/dev/null 2>&1 && ((!create_bridge)); then
    require_missing "bridge $bridge does not exist: set it up with your uplink (the guide's /etc/network/interfaces: bridge_ports eth0), give another with --bridge, or pass --create-bridge"
  fi
  id -u -- "$tap_user" >/dev/null 2>&1 || require_missing "user $tap_user (--tap-user) does not exist"
fi
if [ -n "$cpus" ]; then
  require_tool mount mount
  # On a cgroup v2 (unified) host the cpuset controller belongs to v2 and cannot be
  # mounted as the guide's v1 hierarchy.
  if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
    require_missing "the cgroup v1 cpuset controller: this host mounts cgroup v2 only (/sys/fs/cgroup); boot with systemd.unified_cgroup_hierarchy=0 for the guide's cpuset group, or pin the VMs with taskset instead"
  fi
fi
if [ -n "$nfs" ]; then
  require_tool mount.nfs nfs-common
fi
check_prerequisites

# Is DIR (absolute, normalised) a mount point of type TYPE (any type when empty)? From
# /proc/mounts, which escapes spaces as \040.
mounted() {
  local dir=${1// /\\040} type=$2
  awk -v d="$dir" -v t="$type" '$2 == d && (t == "" || $3 == t) { found = 1 } END { exit !found }' /proc/mounts
}

if ((${#taps[@]} > 0)); then
  step "tap devices on bridge $bridge"
  if ip link show dev "$bridge" >/dev/null 2>&1; then
    :
  elif ((create_bridge)); then
    run ip link add name "$bridge" type bridge
    run ip link set dev "$bridge" up
  else
    note "bridge $bridge must exist before the taps are attached to it (see the warnings)"
  fi
  for tap in "${taps[@]}"; do
    if ip link show dev "$tap" >/dev/null 2>&1; then
      note "$tap exists: not creating it again"
    else
      run ip tuntap add dev "$tap" mode tap user "$tap_user"
    fi
    run ip link set dev "$tap" promisc on up
    run ip link set dev "$tap" master "$bridge"
  done
fi

if [ -n "$cpus" ]; then
  step "cpuset cgroup $cgroup_dir/$cgroup_name (cpus $cpus, mems $mems)"
  if mounted "$cgroup_dir" cgroup; then
    note "$cgroup_dir is already a cgroup mount"
  else
    [ -d "$cgroup_dir" ] || run mkdir -p -- "$cgroup_dir"
    run_capturing mount -t cgroup -o cpuset cpuset "$cgroup_dir" ||
      die "cannot mount the cpuset controller at $cgroup_dir: $CUJU_OUTPUT"
  fi
  [ -d "$cgroup_dir/$cgroup_name" ] || run mkdir -- "$cgroup_dir/$cgroup_name"
  # cpus before cpu_exclusive: the kernel refuses exclusivity for an empty set.
  write_value "$cpus" "$cgroup_dir/$cgroup_name/cpuset.cpus"
  write_value 1 "$cgroup_dir/$cgroup_name/cpuset.cpu_exclusive"
  write_value "$mems" "$cgroup_dir/$cgroup_name/cpuset.mems"
  note "start a VM in it with: cgexec -g cpuset:$cgroup_name ..., or echo its pid > $cgroup_dir/$cgroup_name/tasks"
fi

if [ -n "$nfs" ]; then
  step "NFS $nfs on $nfs_mount"
  if mounted "$nfs_mount" ''; then
    note "$nfs_mount is already mounted: leaving it"
  else
    [ -d "$nfs_mount" ] || run mkdir -p -- "$nfs_mount"
    if [ -n "$nfs_options" ]; then
      run mount -t nfs -o "$nfs_options" "$nfs" "$nfs_mount"
    else
      run mount -t nfs "$nfs" "$nfs_mount"
    fi
  fi
fi
if ((CUJU_DRY_RUN)); then
  end_dry_run
fi
step "done"
