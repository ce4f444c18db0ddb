# shellcheck shell=bash
# Shared by native/*.sh (sourced, never run). One job each: messages, the dry-run aware
# command runner, option helpers, prerequisite checks and the kernel list.
#
# Conventions every script follows:
#   stdout  the result only (a path, module lines), or, with --dry-run, the plan: every
#           command the script would run, shell-quoted, one per line, so that the plan can
#           be read or saved and run; notes in the plan start with '#'.
#   stderr  progress: '==> step' headings, '+ command' before each command, the commands'
#           own output, warnings and errors (prefixed with the script's name).
#   exit    0 done; 1 a step failed; 2 bad usage; 3 prerequisites missing (nothing done).
#           A dry run prints its whole plan even where prerequisites are missing: they
#           are listed as warnings, the plan ends with a note, and it exits 3 (0 when a
#           real run here would go ahead), so that the plan can be read on any machine.
#
# Written for bash 4.3 (Ubuntu 16.04), where "${a[@]}" of an empty array trips `set -u`:
# empty arrays are expanded as ${a[@]+"${a[@]}"}.

CUJU_SCRIPT=${0##*/}
CUJU_DRY_RUN=0
# An exported CDPATH makes `cd` print the directory, which `$(cd X && pwd)` would capture.
unset CDPATH

# Kernels Cuju's KVM module is known to build on (README.md @619d98e, PR #44): the 4.4
# series of Ubuntu 16.04 (kvm-4.4/) and 4.15 of Ubuntu 18.04.1 (4.15.0-29-generic).
CUJU_SUPPORTED_KERNELS='4.4.x (Ubuntu 16.04) and 4.15.x (Ubuntu 18.04.1: 4.15.0-29-generic)'

say() { printf '%s: %s\n' "$CUJU_SCRIPT" "$*" >&2; }
step() { printf '==> %s\n' "$*" >&2; }
warn() { say "warning: $*"; }
die() {
  say "error: $*"
  exit 1
}
usage_error() {
  say "$*"
  say "try '$CUJU_SCRIPT --help'"
  exit 2
}

# One command as a line a shell reads back as the same argv.
quote_cmd() {
  local out='' arg
  for arg in "$@"; do
    out+="${out:+ }$(printf '%q' "$arg")"
  done
  printf '%s' "$out"
}

# A note in the plan (dry-run) or a progress line (real run).
note() {
  if ((CUJU_DRY_RUN)); then printf '# %s\n' "$*"; else say "$*"; fi
}

# announce LINE: a dry run prints LINE as a line of the plan (stdout) and returns 1, "do
# not run it"; a real run shows it as `+ LINE` (stderr) and returns 0.
announce() {
  if ((CUJU_DRY_RUN)); then
    printf '%s\n' "$1"
    return 1
  fi
  printf '+ %s\n' "$1" >&2
}

# run CMD [ARG...]: announces the command; in a real run runs it with its output on
# stderr, and fails the script with a message naming it if it fails.
run() {
  announce "$(quote_cmd "$@")" || return 0
  local status=0
  "$@" >&2 || status=$?
  ((status == 0)) || die "'$(quote_cmd "$@")' failed (exit $status)"
}

# run_logged LOG CMD [ARG...]: like run, but the output is also appended to LOG, and a
# failure is returned (not fatal) so the caller can read LOG and decide.
run_logged() {
  local log=$1
  shift
  announce "$(quote_cmd "$@")" || return 0
  "$@" 2>&1 | tee -a "$log" >&2
}

# run_capturing CMD [ARG...]: like run, but the output is kept in CUJU_OUTPUT (and shown)
# and a failure is returned, for callers that explain the command's failures themselves.
CUJU_OUTPUT=''
run_capturing() {
  announce "$(quote_cmd "$@")" || return 0
  local status=0
  CUJU_OUTPUT=$("$@" 2>&1) || status=$?
  [ -z "$CUJU_OUTPUT" ] || printf '%s\n' "$CUJU_OUTPUT" >&2
  return "$status"
}

# go_to DIR: cd, shown in the plan like any other command.
go_to() {
  announce "cd $(printf '%q' "$1")" || return 0
  cd -- "$1" || die "cannot change to directory $1"
}

# write_value VALUE FILE: echo VALUE > FILE (a cgroup knob), shown like a command.
write_value() {
  announce "printf '%s\\n' $(printf '%q' "$1") > $(printf '%q' "$2")" || return 0
  printf '%s\n' "$1" >"$2" || die "cannot write '$1' to $2"
}

# Options ---------------------------------------------------------------------------

# need_value "$@": the option in $1 takes a value, and there is one in $2.
need_value() {
  (($# >= 2)) || usage_error "option $1 needs a value"
}

# common_option ARG: what every script takes besides its own options (--dry-run, --help;
# each script defines usage); anything else is refused.
common_option() {
  case $1 in
    --dry-run) CUJU_DRY_RUN=1 ;;
    --help | -h)
      usage
      exit 0
      ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
}

# need_value_matching REGEX WHAT "$@": need_value, and the value matches REGEX.
need_value_matching() {
  local regex=$1 what=$2
  shift 2
  need_value "$@"
  [[ $2 =~ $regex ]] || usage_error "$1: '$2' is not $what"
}

need_count() {
  [[ $2 =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "$1 must be a positive whole number, got '$2'"
}

# The default for --jobs: every core, as the README's make -j8 meant on its machines.
default_jobs() {
  nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1
}

absolute_path() {
  case $1 in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$PWD" "$1" ;;
  esac
}

# resolve_dir NAME DIR WHAT HINT: sets the variable NAME to DIR made absolute. A missing
# DIR fails the script, except in a dry run: there it may still appear (cloned, mounted or
# built by an earlier step) and is only warned about.
resolve_dir() {
  local resolved
  if [ -d "$2" ]; then
    resolved=$(cd -- "$2" && pwd)
  elif ((CUJU_DRY_RUN)); then
    warn "$3 $2 does not exist (yet): $4"
    resolved=$(absolute_path "$2")
  else
    die "$3 $2 does not exist: $4"
  fi
  printf -v "$1" '%s' "$resolved"
}

# Prerequisites -----------------------------------------------------------------------
# Each check adds what is missing to one list, so that the operator learns everything to
# install in one go; check_prerequisites then refuses (exit 3) before anything has run. A
# dry run lists the same items as warnings and goes on planning; end_dry_run exits 3.

CUJU_MISSING=()
CUJU_PACKAGES=()

# require_tool COMMAND PACKAGE: COMMAND must be on PATH (PACKAGE is what installs it).
require_tool() {
  command -v -- "$1" >/dev/null 2>&1 && return 0
  CUJU_MISSING+=("'$1' is not installed (Debian/Ubuntu package: $2)")
  CUJU_PACKAGES+=("$2")
}

require_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  CUJU_MISSING+=("root: $1; run it as root or with sudo")
}

# require_supported_kernel ALLOW_OTHERS: the running kernel is one Cuju's KVM supports.
require_supported_kernel() {
  local release
  release=$(uname -r)
  case $release in
    4.4.* | 4.15.*) return 0 ;;
  esac
  if (($1)); then
    warn "kernel $release is not one Cuju supports ($CUJU_SUPPORTED_KERNELS); going on because of --allow-unsupported-kernel"
    return 0
  fi
  CUJU_MISSING+=("a supported kernel: this host runs $release; Cuju's KVM module supports $CUJU_SUPPORTED_KERNELS. On Ubuntu 18.04: apt-get install linux-image-4.15.0-29-generic linux-headers-4.15.0-29-generic, then reboot into it (or pass --allow-unsupported-kernel to try anyway)")
}

require_missing() {
  CUJU_MISSING+=("$1")
}

# refuse MESSAGE (before check_prerequisites): what stops a real run at once (exit 1, as
# `die`). A dry run cannot stop there without hiding the rest of the plan: the message
# joins the missing prerequisites instead, so the plan is printed whole and it exits 3.
refuse() {
  ((CUJU_DRY_RUN)) || die "$1"
  CUJU_MISSING+=("$1")
}

check_prerequisites() {
  ((${#CUJU_MISSING[@]} == 0)) && return 0
  if ((CUJU_DRY_RUN)); then
    warn "missing prerequisites: a real run here would refuse (exit 3); the plan follows anyway:"
  else
    say "missing prerequisites, nothing was done:"
  fi
  local item
  for item in "${CUJU_MISSING[@]}"; do
    printf '  - %s\n' "$item" >&2
  done
  if ((${#CUJU_PACKAGES[@]} > 0)); then
    say "install them with: sudo apt-get install $(printf '%s\n' "${CUJU_PACKAGES[@]}" | sort -u | tr '\n' ' ')"
  fi
  ((CUJU_DRY_RUN)) || exit 3
}

# end_dry_run: the end of every dry run. Exit 0 when a real run here would go ahead; 3
# when something it needs is missing (listed on stderr), with a last note in the plan.
end_dry_run() {
  if ((${#CUJU_MISSING[@]} > 0)); then
    note "a real run on this host would refuse: ${#CUJU_MISSING[@]} missing prerequisite(s), listed on stderr"
    exit 3
  fi
  exit 0
}

# The KVM module tree of a Cuju source tree. The repo holds kvm/ (README: `cd kvm`) and
# kvm-4.4/ for Ubuntu 16.04's kernel; how PR #81 chooses between them is UNCONFIRMED
# (reference §11.7), so: kvm-4.4/ on a 4.4 kernel when the tree has it, kvm/ otherwise.
kvm_tree_of() {
  local source=$1 release
  release=$(uname -r)
  if [[ $release == 4.4.* && -d $source/kvm-4.4 ]]; then
    printf '%s/kvm-4.4' "$source"
  else
    printf '%s/kvm' "$source"
  fi
}
