#!/usr/bin/env bash
# Builds Cuju's QEMU (x86_64-softmmu/qemu-system-x86_64) from a source tree, as the
# README and the lab manual do, and prints the binary's path.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: build-cuju.sh --source DIR [options]

Configures and builds Cuju's QEMU in DIR:
  ./configure --enable-cuju --enable-kvm --disable-pie --target-list=x86_64-softmmu
  make -j <cores>
then prints the absolute path of x86_64-softmmu/qemu-system-x86_64 on stdout (progress
and the build's output go to stderr), so that BIN=$(build-cuju.sh --source DIR) works.

Options:
  --source DIR          the Cuju source tree (with --clone: where to clone it)
  --clone URL           git clone URL into DIR first; skipped, with a note, when DIR
                        already exists (nothing is overwritten)
  --ref REF             after cloning, check out REF (branch, tag or commit, e.g.
                        support/kernel4.15)
  --jobs N              parallel make jobs (default: the number of cores)
  --clean               make clean before building (the README does; slower)
  --configure-arg ARG   one more argument for ./configure (repeatable)
  --dry-run             print every command that would run (a shell script) and run none;
                        prerequisites are still checked: what is missing is listed as
                        warnings, the plan is printed whole anyway, and the exit status
                        says so (3)
  --help                this text

Prerequisites, checked before anything runs: a C compiler, make, pkg-config, Python 2
(QEMU 2.8's configure refuses Python 3), the glib-2.0, pixman-1 and zlib development
files, and git with --clone. When `python` is not Python 2 but `python2` is, configure is
given --python=<path of python2>.

Environment: MAKE, the make program to run (default: make).

Exit status: 0 built; 1 a step failed; 2 bad usage; 3 prerequisites missing (nothing
was done). With --dry-run: 0 the plan is printed and a real run here would start; 3 the
plan is printed but a real run here would refuse (what is missing is on stderr); 2 bad
usage.
EOF
}

source_dir=''
clone_url=''
ref=''
jobs=''
clean=0
extra_configure=()

while (($# > 0)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" && continue ;;
    --source) need_value "$@"; source_dir=$2; shift ;;
    --clone) need_value "$@"; clone_url=$2; shift ;;
    --ref) need_value "$@"; ref=$2; shift ;;
    --jobs) need_value "$@"; need_count "$1" "$2"; jobs=$2; shift ;;
    --clean) clean=1 ;;
    --configure-arg) need_value "$@"; extra_configure+=("$2"); shift ;;
    *) common_option "$1" ;;
  esac
  shift
done

[ -n "$source_dir" ] || usage_error "--source DIR is required (the Cuju source tree)"
[ -n "$ref" ] && [ -z "$clone_url" ] && usage_error "--ref needs --clone (check out other refs yourself)"
[ -n "$jobs" ] || jobs=$(default_jobs)
source_dir=$(absolute_path "$source_dir")
make_cmd=${MAKE:-make}

# What the checks and the plan need to know about the tree.
will_clone=0
if [ -n "$clone_url" ]; then
  if [ -e "$source_dir" ]; then
    note "$source_dir already exists: building it as it is, not cloning $clone_url"
    # A ref asked for but not checked out would build something else than asked: refuse.
    if [ -n "$ref" ]; then
      if ! command -v git >/dev/null 2>&1; then
        refuse "--ref needs git to check which revision $source_dir is at (apt-get install git)"
      else
        head=$(git -C "$source_dir" rev-parse --verify -q HEAD 2>/dev/null) || head=''
        wanted=$(git -C "$source_dir" rev-parse --verify -q "$ref^{commit}" 2>/dev/null) || wanted=''
        if [ -z "$head" ] || [ "$head" != "$wanted" ]; then
          refuse "$source_dir exists but is not at $ref: check it out there (git -C $source_dir checkout $ref), or remove the directory to clone afresh"
        fi
      fi
    fi
  else
    will_clone=1
  fi
fi
if ((!will_clone)); then
  if [ ! -d "$source_dir" ] && ((CUJU_DRY_RUN)); then
    # It may still appear (an NFS mount by an earlier step), as build-kvm.sh's tree may.
    warn "source tree $source_dir does not exist (yet): give --clone URL to clone it there, or mount it first"
  else
    [ -d "$source_dir" ] || die "source tree $source_dir does not exist (give --clone URL to clone it there)"
    [ -x "$source_dir/configure" ] || refuse "$source_dir has no executable ./configure: is it a Cuju source tree?"
  fi
fi

# Prerequisites.
require_tool cc build-essential
require_tool "$make_cmd" make
require_tool pkg-config pkg-config
((will_clone)) && require_tool git git
is_python2() {
  command -v "$1" >/dev/null 2>&1 && "$1" -c 'import sys; sys.exit(sys.version_info[0] != 2)' 2>/dev/null
}
python_arg=()
if is_python2 python; then
  : # configure's default, `python`, is Python 2
elif is_python2 python2; then
  python_arg=("--python=$(command -v python2)")
else
  require_missing "Python 2: QEMU 2.8's configure needs it (Debian/Ubuntu package: python, or python2.7)"
  CUJU_PACKAGES+=(python)
fi
if command -v pkg-config >/dev/null 2>&1; then
  for lib in glib-2.0:libglib2.0-dev pixman-1:libpixman-1-dev zlib:zlib1g-dev; do
    pkg-config --exists "${lib%%:*}" 2>/dev/null && continue
    require_missing "the ${lib%%:*} development files (Debian/Ubuntu package: ${lib#*:})"
    CUJU_PACKAGES+=("${lib#*:}")
  done
fi
check_prerequisites

if ((will_clone)); then
  step "cloning $clone_url into $source_dir"
  run git clone -- "$clone_url" "$source_dir"
  [ -n "$ref" ] && run git -C "$source_dir" checkout "$ref"
  if ((!CUJU_DRY_RUN)); then
    [ -x "$source_dir/configure" ] || die "the clone of $clone_url has no executable ./configure: is it Cuju?"
  fi
fi

step "configuring $source_dir"
go_to "$source_dir"
run ./configure --enable-cuju --enable-kvm --disable-pie --target-list=x86_64-softmmu \
  ${python_arg[@]+"${python_arg[@]}"} ${extra_configure[@]+"${extra_configure[@]}"}

step "building with $jobs jobs"
((clean)) && run "$make_cmd" clean
run "$make_cmd" -j "$jobs"

binary=$source_dir/x86_64-softmmu/qemu-system-x86_64
if ((CUJU_DRY_RUN)); then
  note "then prints $binary"
  end_dry_run
fi
[ -x "$binary" ] || die "make succeeded but $binary was not built: is --target-list x86_64-softmmu honoured by this tree?"
step "built $binary"
printf '%s\n' "$binary"
