#!/usr/bin/env bash
# Builds Cuju's KVM modules (kvm.ko, kvm-intel.ko). When the build fails with one of the
# two errors the README documents, applies the matching patch from the tree's patch/
# directory, says so, and builds again.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: build-kvm.sh --source DIR [options]

Builds Cuju's KVM module tree of the Cuju source tree DIR:
  cd <kvm tree> && ./configure && make -j <cores>
and prints the paths of x86/kvm.ko and x86/kvm-intel.ko on stdout (progress and the
build's output go to stderr).

When make fails with a documented error, the README's fix is applied from DIR, once, and
make runs again:
  incompatible type for argument 5 of '__get_user_pages_unlocked'
      -> patch -p1 < patch/__get_user_pages_unlocked.patch
  implicit declaration of function 'use_eager_fpu'
      -> patch -p1 < patch/use_eager_fpu.patch
Any other failure stops the script with the end of the build's output.

Options:
  --source DIR      the Cuju source tree (holds the kvm tree and patch/)
  --kvm-dir DIR     the module tree to build (default: DIR/kvm-4.4 on a 4.4 kernel when
                    the tree has it, else DIR/kvm)
  --kernel-dir DIR  the kernel's build directory (default: /lib/modules/$(uname -r)/build);
                    when given it is passed on as ./configure --kerneldir=DIR
  --jobs N          parallel make jobs (default: the number of cores)
  --clean           make clean before building (the README does)
  --no-patch        never patch: stop at a documented error and say which patch fixes it
  --allow-unsupported-kernel
                    warn instead of refusing on a kernel other than 4.4.x / 4.15.x
  --dry-run         print every command that would run (a shell script) and run none;
                    prerequisites are still checked: what is missing is listed as
                    warnings, the plan is printed whole anyway, and the exit status
                    says so (3)
  --help            this text

Prerequisites, checked before anything runs: a C compiler, make, patch, a supported
kernel (4.4.x for Ubuntu 16.04, 4.15.x for Ubuntu 18.04.1) and its headers.

Environment: MAKE, the make program to run (default: make).

Exit status: 0 built; 1 a step failed; 2 bad usage; 3 prerequisites missing (nothing
was done). With --dry-run: 0 the plan is printed and a real run here would start; 3 the
plan is printed but a real run here would refuse (what is missing is on stderr); 2 bad
usage.
EOF
}

# The documented build errors and their patches, as "error text|patch file".
KNOWN_FAILURES=(
  "incompatible type for argument 5 of '__get_user_pages_unlocked'|patch/__get_user_pages_unlocked.patch"
  "implicit declaration of function 'use_eager_fpu'|patch/use_eager_fpu.patch"
)

source_dir=''
kvm_dir=''
kernel_dir=''
jobs=''
clean=0
patching=1
allow_kernel=0

while (($# > 0)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" && continue ;;
    --source) need_value "$@"; source_dir=$2; shift ;;
    --kvm-dir) need_value "$@"; kvm_dir=$2; shift ;;
    --kernel-dir) need_value "$@"; kernel_dir=$2; shift ;;
    --jobs) need_value "$@"; need_count "$1" "$2"; jobs=$2; shift ;;
    --clean) clean=1 ;;
    --no-patch) patching=0 ;;
    --allow-unsupported-kernel) allow_kernel=1 ;;
    *) common_option "$1" ;;
  esac
  shift
done

[ -n "$source_dir" ] || usage_error "--source DIR is required (the Cuju source tree)"
resolve_dir source_dir "$source_dir" 'source tree' 'clone or mount it first'
[ -n "$kvm_dir" ] || kvm_dir=$(kvm_tree_of "$source_dir")
if [ -d "$source_dir" ]; then
  resolve_dir kvm_dir "$kvm_dir" 'KVM module tree' "is $source_dir a Cuju source tree?"
  [ -x "$kvm_dir/configure" ] || [ ! -d "$kvm_dir" ] || refuse "$kvm_dir has no executable ./configure"
fi
[ -z "$kernel_dir" ] || kernel_dir=$(absolute_path "$kernel_dir")
[ -n "$jobs" ] || jobs=$(default_jobs)
make_cmd=${MAKE:-make}

require_tool cc build-essential
require_tool "$make_cmd" make
require_tool patch patch
require_supported_kernel "$allow_kernel"
configure_args=()
if [ -n "$kernel_dir" ]; then
  [ -d "$kernel_dir" ] || require_missing "kernel build directory $kernel_dir (given by --kernel-dir) does not exist"
  configure_args=("--kerneldir=$kernel_dir")
else
  release=$(uname -r)
  [ -d "/lib/modules/$release/build" ] ||
    require_missing "the headers of the running kernel (/lib/modules/$release/build): apt-get install linux-headers-$release, or give --kernel-dir"
fi
check_prerequisites

# The patch that fixes a build log's documented error, or nothing. Quotes may be the
# README's '' or, from a gcc in a UTF-8 locale, ‘’: either matches.
patch_for() {
  local entry pattern
  for entry in "${KNOWN_FAILURES[@]}"; do
    pattern=$(printf '%s' "${entry%%|*}" | sed "s/'/('|‘|’)/g")
    if grep -qE -- "$pattern" "$1"; then
      printf '%s\n' "$entry"
      return 0
    fi
  done
  return 1
}

already_applied() {
  patch -d "$source_dir" -p1 -R --dry-run -s -f -i "$1" >/dev/null 2>&1
}

step "configuring $kvm_dir"
go_to "$kvm_dir"
run ./configure ${configure_args[@]+"${configure_args[@]}"}
((clean)) && run "$make_cmd" clean

if ((CUJU_DRY_RUN)); then
  step "building with $jobs jobs"
  run env LC_ALL=C "$make_cmd" -j "$jobs"
  for entry in "${KNOWN_FAILURES[@]}"; do
    fix=$source_dir/${entry#*|}
    if ((!patching)); then
      note "if make fails with \"${entry%%|*}\": stop (--no-patch); the fix is: patch -p1 < ${entry#*|}"
    elif [ -f "$fix" ] && already_applied "$fix"; then
      note "${entry#*|} is already applied"
    else
      note "if make fails with \"${entry%%|*}\": $(quote_cmd patch -d "$source_dir" -p1 -N -i "$fix"), then make again"
    fi
  done
  note "then prints $kvm_dir/x86/kvm.ko and $kvm_dir/x86/kvm-intel.ko"
  end_dry_run
fi

log=$(mktemp)
trap 'rm -f -- "$log"' EXIT
applied=()
while true; do
  step "building with $jobs jobs"
  : >"$log"
  # LC_ALL=C: in a UTF-8 locale gcc quotes names with ‘’ instead of the README's ''.
  run_logged "$log" env LC_ALL=C "$make_cmd" -j "$jobs" && break
  status=$?
  if ! known=$(patch_for "$log"); then
    say "make failed (exit $status) with an error that has no documented fix; its last lines:"
    tail -n 20 -- "$log" | sed 's/^/  | /' >&2
    exit 1
  fi
  error_text=${known%%|*}
  fix=$source_dir/${known#*|}
  for done_fix in ${applied[@]+"${applied[@]}"}; do
    [ "$done_fix" = "$fix" ] && die "make still fails with \"$error_text\" after applying ${known#*|}"
  done
  ((patching)) || die "make failed with \"$error_text\"; the documented fix is 'patch -p1 < ${known#*|}' in $source_dir (not applied: --no-patch)"
  [ -f "$fix" ] || die "make failed with \"$error_text\", whose fix ${known#*|} is missing from $source_dir"
  already_applied "$fix" && die "make fails with \"$error_text\" although ${known#*|} is already applied"
  say "make failed with \"$error_text\": applying ${known#*|}"
  run patch -d "$source_dir" -p1 -N -i "$fix"
  say "applied ${known#*|}; building again"
  applied+=("$fix")
done

for module in kvm kvm-intel; do
  [ -f "$kvm_dir/x86/$module.ko" ] || die "make succeeded but $kvm_dir/x86/$module.ko was not built"
done
step "built $kvm_dir/x86/kvm.ko and $kvm_dir/x86/kvm-intel.ko${applied[0]+ (patched: ${applied[*]##*/})}"
printf '%s\n' "$kvm_dir/x86/kvm.ko" "$kvm_dir/x86/kvm-intel.ko"
