#!/usr/bin/env bash
# Replaces the host's KVM modules with Cuju's (kvm-4.4/reinsmodkvm.sh, made safe): unload
# kvm_intel and kvm, load the built kvm.ko and kvm-intel.ko, and check with lsmod. Run it
# on the primary and on the backup host before starting VMs.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: reinsmodkvm.sh [--source DIR | --kvm-dir DIR] [options]

Unloads kvm_intel and kvm (those that are loaded), loads Cuju's modules
  insmod <kvm tree>/x86/kvm.ko
  insmod <kvm tree>/x86/kvm-intel.ko
and checks with lsmod that both are loaded, printing lsmod's kvm lines before (stderr)
and after (stdout). Needs root. Stop every VM on the host first: a loaded module in use
cannot be removed.

Options:
  --source DIR      the Cuju source tree; the kvm tree is chosen as build-kvm.sh does
                    (DIR/kvm-4.4 on a 4.4 kernel when present, else DIR/kvm)
  --kvm-dir DIR     the built module tree itself (default: the current directory, as
                    the original script is run from inside it)
  --allow-unsupported-kernel
                    warn instead of refusing on a kernel other than 4.4.x / 4.15.x
  --dry-run         print every command that would run and run none; prerequisites are
                    still checked: what is missing is listed as warnings, the plan is
                    printed whole anyway, and the exit status says so (3); modules not
                    built yet are only warned about
  --help            this text

Exit status: 0 loaded; 1 a step failed; 2 bad usage; 3 prerequisites missing (nothing
was done). With --dry-run: 0 the plan is printed and a real run here would start; 3 the
plan is printed but a real run here would refuse (what is missing is on stderr); 2 bad
usage.
EOF
}

source_dir=''
kvm_dir=''
allow_kernel=0

while (($# > 0)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" && continue ;;
    --source) need_value "$@"; source_dir=$2; shift ;;
    --kvm-dir) need_value "$@"; kvm_dir=$2; shift ;;
    --allow-unsupported-kernel) allow_kernel=1 ;;
    *) common_option "$1" ;;
  esac
  shift
done

[ -n "$source_dir" ] && [ -n "$kvm_dir" ] && usage_error "give --source or --kvm-dir, not both"
if [ -n "$source_dir" ]; then
  resolve_dir source_dir "$source_dir" 'source tree' 'clone or mount it first'
  kvm_dir=$(kvm_tree_of "$source_dir")
fi
[ -n "$kvm_dir" ] || kvm_dir=.
resolve_dir kvm_dir "$kvm_dir" 'KVM module tree' 'build the modules first (build-kvm.sh)'

require_root "reinsmodkvm.sh loads kernel modules"
require_tool lsmod kmod
require_tool rmmod kmod
require_tool insmod kmod
require_supported_kernel "$allow_kernel"
check_prerequisites

for module in kvm kvm-intel; do
  [ -f "$kvm_dir/x86/$module.ko" ] && continue
  if ((CUJU_DRY_RUN)); then
    warn "$kvm_dir/x86/$module.ko is not built yet: build it (build-kvm.sh) before running this for real"
  else
    die "$kvm_dir/x86/$module.ko does not exist: build the modules first (build-kvm.sh --source <Cuju tree>)"
  fi
done

kvm_lines() {
  lsmod | grep -E '^kvm(_intel)?[[:space:]]' || true
}

# Not `lsmod | grep -q`: grep -q stops at the first match, lsmod then dies of SIGPIPE,
# and pipefail turns that into a failure.
loaded() {
  lsmod | grep -E "^$1[[:space:]]" >/dev/null
}

if ((CUJU_DRY_RUN)); then
  for module in kvm_intel kvm; do
    printf "if lsmod | grep -q '^%s '; then rmmod %s; fi\n" "$module" "$module"
  done
  run insmod "$kvm_dir/x86/kvm.ko"
  run insmod "$kvm_dir/x86/kvm-intel.ko"
  note "then checks that lsmod lists kvm and kvm_intel"
  end_dry_run
fi

step "before"
before=$(kvm_lines)
printf '%s\n' "${before:-(no kvm module loaded)}" | sed 's/^/  /' >&2

for module in kvm_intel kvm; do
  loaded "$module" || continue
  run_capturing rmmod "$module" || case $CUJU_OUTPUT in
    *"in use"*) die "cannot unload $module: it is in use; stop every VM (QEMU/Cuju) on this host first" ;;
    *) die "cannot unload $module: $CUJU_OUTPUT" ;;
  esac
done

# From here on the host may have no KVM module at all until this succeeds.
restore="the host has no KVM module loaded now; 'modprobe kvm_intel' loads the distribution's again"
for module in kvm kvm-intel; do
  run_capturing insmod "$kvm_dir/x86/$module.ko" || case $CUJU_OUTPUT in
    *"Invalid module format"* | *"Exec format error"*)
      die "cannot load $module.ko: it was built for another kernel than $(uname -r); rebuild it (build-kvm.sh); $restore" ;;
    *"Operation not supported"* | *"No such device"*)
      die "cannot load $module.ko: Intel VT-x is missing or disabled (enable it in the firmware; see dmesg); $restore" ;;
    *) die "cannot load $module.ko: $CUJU_OUTPUT (see dmesg); $restore" ;;
  esac
done

for module in kvm kvm_intel; do
  loaded "$module" || die "insmod succeeded but lsmod does not list $module"
done
step "after"
kvm_lines
