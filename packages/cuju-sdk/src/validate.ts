/**
 * Input checks, run before anything is sent to a monitor or put on a command line. Each
 * takes the field's name as the caller knows it (`backup.port`, `spec.nic.mac`) and the
 * value as `unknown`, because values often come from JSON or JavaScript callers; it
 * returns the value, typed, or throws CujuArgumentError naming the field:
 * `backup.port must be an integer 1-65535, got 70000`.
 *
 * Values are echoed only where they cannot be secrets (addresses, MACs, numbers, short
 * identifiers). Paths and free-form arguments are described, never quoted.
 */
import { CujuArgumentError } from './errors.js';

// ---------------------------------------------------------------------------------------
// How refused values are shown

/** `70000`, `"1.2.3"`, `a boolean`: a value that may be echoed, shortened. */
function shown(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > 42 ? `${quoted.slice(0, 40)}…" (${value.length} characters)` : quoted;
  }
  return kindOf(value);
}

/** `a string`, `an array`, `nothing`: what a value is, without what it says. */
export function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

function refuse(field: string, problem: string): never {
  throw new CujuArgumentError(field, problem);
}

function checkString(field: string, value: unknown, echo: boolean): string {
  if (typeof value !== 'string')
    refuse(field, `must be a string, got ${echo ? shown(value) : kindOf(value)}`);
  return value;
}

function checkInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    refuse(field, `must be an integer ${min}-${max}, got ${shown(value)}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// Addresses and numbers

/**
 * A dotted-quad IPv4 address, each part 0-255, at most 15 characters.
 *
 * Cuju copies exactly 16 bytes (IP_LEN) of every IP given to gft_add_host/gft_add_backup
 * and never resolves names, so only a dotted quad fits (the longest, 255.255.255.255, is
 * 15 characters plus the NUL).
 *
 * Leading zeros are refused (`010`, `192.168.01.1`): the string ends in getaddrinfo, which
 * like inet_aton reads a leading 0 as octal (`010` is 8), while a person reads 10. Rather
 * than pick one meaning, the ambiguous spelling is refused. A lone `0` is fine.
 */
export function checkIPv4(field: string, value: unknown): string {
  const text = checkString(field, value, true);
  const parts = text.split('.');
  const ok =
    text.length <= 15 &&
    parts.length === 4 &&
    parts.every((p) => /^(?:0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
  if (!ok) {
    const why = /(?:^|\.)0\d/.test(text) ? ' (no leading zeros: C reads them as octal)' : '';
    refuse(field, `must be a dotted IPv4 address like 192.168.0.1${why}, got ${shown(value)}`);
  }
  return text;
}

/**
 * A MAC address written `aa:bb:cc:dd:ee:ff`: six groups of two hex digits (either case).
 *
 * Cuju parses gft_add_host's MAC with sscanf("%x:%x:...") and matches it against the
 * destination of guest packets, and QEMU refuses a NIC MAC whose first byte is odd
 * (multicast, which includes the broadcast address): such a MAC can never be a VM's,
 * so it is refused here too.
 */
export function checkMac(field: string, value: unknown): string {
  const text = checkString(field, value, true);
  if (!/^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/.test(text)) {
    refuse(field, `must be a MAC address like ae:ae:00:00:00:25, got ${shown(value)}`);
  }
  if (Number.parseInt(text.slice(0, 2), 16) & 1) {
    refuse(field, `must be a unicast MAC address (first byte even), got ${shown(value)}`);
  }
  return text;
}

/** A TCP port, 1-65535 (a number: `"4441"` is refused, so a JSON mistake shows up here). */
export function checkPort(field: string, value: unknown): number {
  return checkInteger(field, value, 1, 65535);
}

/**
 * A group-FT member id (or any id Cuju stores in a C int and uses as an array index):
 * an integer from 0 to 2^31-1.
 */
export function checkId(field: string, value: unknown): number {
  return checkInteger(field, value, 0, 2 ** 31 - 1);
}

/**
 * A Cuju epoch length in microseconds, for `cuju-adjust-epoch`. Cuju prints
 * `new epoch size is N ms.` but stores the value as `epoch_time_in_us` (reference §2.2).
 * 0 is refused (no epoch at all); the top, 2^31-1, fits HMP's 32-bit `i` and QAPI's
 * uint32 alike.
 */
export function checkEpochUs(field: string, value: unknown): number {
  return checkInteger(field, value, 1, 2 ** 31 - 1);
}

// ---------------------------------------------------------------------------------------
// Paths

/** PATH_MAX on Linux, including the NUL. */
const PATH_MAX = 4096;
/** sun_path in struct sockaddr_un is 108 bytes, including the NUL. */
const UNIX_PATH_MAX = 108;

/**
 * A file path placed inside a QEMU option value (`-chardev ...,path=P,...`, `-drive
 * ...,file=P`, `-qmp unix:P,...`): non-empty, absolute or relative, below PATH_MAX, with
 * no control characters (NUL cannot be passed in argv at all; a newline would break
 * every log and script that shows the line).
 *
 * Commas are refused. QEMU splits option values at `,`, so `path=/a,b` would end the
 * path at `/a` and read `b` as another option; a path like `x,server=off` could even
 * change the option. QEMU's escape (`,,`) is not used: refusing is simpler to get right
 * than escaping every place a path ends up, and such paths are rare.
 */
export function checkPath(field: string, value: unknown): string {
  const text = checkString(field, value, false);
  if (text === '') refuse(field, 'must not be empty');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
  if (/[\u0000-\u001f\u007f]/.test(text))
    refuse(field, 'must not contain control characters (newline, NUL, ...)');
  if (text.includes(',')) {
    refuse(field, "must not contain ',': QEMU would end the path there and read the rest as options");
  }
  if (Buffer.byteLength(text) >= PATH_MAX) refuse(field, `must be shorter than ${PATH_MAX} bytes`);
  return text;
}

/**
 * The path of a Unix socket to connect to (a monitor): a non-empty string with no control
 * characters that fits sun_path, at most 107 bytes (108 with the terminating NUL).
 *
 * The kernel reads sun_path up to the first NUL: `/run/a\0/vm1.monitor` connects to
 * `/run/a`, and a leading NUL names a socket in the abstract namespace instead of a file.
 * A longer path is cut or refused depending on who copies it (libuv, sshd, QEMU), never
 * reached as written. So each is refused here, naming the field, before anything connects.
 */
export function checkUnixSocketPath(field: string, value: unknown): string {
  const text = checkString(field, value, false);
  if (text === '') refuse(field, 'must not be empty');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    refuse(
      field,
      'must not contain control characters: the kernel ends a socket path at NUL, and a line break forges log lines',
    );
  }
  const bytes = Buffer.byteLength(text);
  if (bytes >= UNIX_PATH_MAX) {
    refuse(
      field,
      `must be at most ${UNIX_PATH_MAX - 1} bytes (a Unix socket path: sun_path holds ${UNIX_PATH_MAX} with ` +
        `its terminating NUL), got ${bytes} bytes`,
    );
  }
  return text;
}

/**
 * The path of a Unix socket QEMU listens on (a monitor): a checkPath path (no commas, as it
 * goes into an option value) that also fits sun_path (checkUnixSocketPath), or QEMU fails
 * at start with "UNIX socket path ... is too long".
 */
export function checkSocketPath(field: string, value: unknown): string {
  return checkUnixSocketPath(field, checkPath(field, value));
}

/**
 * A disk image path for `-drive file=`: a checkPath path that QEMU will not read as a
 * protocol. QEMU's block layer treats a `:` before the first `/` as a protocol prefix
 * (`nbd:`, `json:`, ...), so a relative `disk:1.img` would not open the file. Write
 * `./disk:1.img` instead. Images served some other way go in `extraArgs`.
 */
export function checkImagePath(field: string, value: unknown): string {
  const text = checkPath(field, value);
  const colon = text.indexOf(':');
  const slash = text.indexOf('/');
  if (colon >= 0 && (slash < 0 || colon < slash)) {
    refuse(field, "must not have ':' before the first '/': QEMU would read it as a protocol (write ./name)");
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// What a launch line needs

/**
 * Guest memory for `-m`: a number of MiB (a positive integer), or QEMU's size text, a
 * number with an optional K, M, G or T suffix (`1G`, `2048M`, `512`; no suffix means MiB,
 * as in QEMU). Returns the text to put after `-m`.
 */
export function checkMemory(field: string, value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 1) {
      refuse(field, `must be a positive whole number of MiB or a size like 1G, got ${shown(value)}`);
    }
    return `${value}M`;
  }
  const text = checkString(field, value, true);
  if (!/^\d+(?:\.\d+)?[KMGT]?$/i.test(text) || Number.parseFloat(text) <= 0) {
    refuse(field, `must be a size like 1G, 2048M or 512 (MiB), got ${shown(value)}`);
  }
  return text;
}

/** Guest CPUs for `-smp`: 1-255, the most QEMU 2.8's pc machines take. */
export function checkSmp(field: string, value: unknown): number {
  return checkInteger(field, value, 1, 255);
}

/**
 * A tap interface name: 1-15 of `[A-Za-z0-9_.-]` (IFNAMSIZ is 16 with the NUL), and not
 * `.` or `..`, which Linux refuses as device names.
 */
export function checkTapName(field: string, value: unknown): string {
  const text = checkString(field, value, true);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(text) || text === '.' || text === '..') {
    refuse(field, `must be an interface name of 1-15 letters, digits, '_', '.' or '-', got ${shown(value)}`);
  }
  return text;
}

/** An identifier placed in an option value (NIC model, VM name): no commas, no spaces. */
function checkWord(field: string, value: unknown, what: string, max: number): string {
  const text = checkString(field, value, true);
  if (text.length > max || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(text)) {
    refuse(
      field,
      `must be ${what} (a letter or digit, then letters, digits, '_', '.', '-'), got ${shown(value)}`,
    );
  }
  return text;
}

/** A `-net nic,model=` name: `virtio`, `e1000`, `rtl8139`, ... */
export function checkNicModel(field: string, value: unknown): string {
  return checkWord(field, value, 'a NIC model name', 32);
}

/** A VM name for `-name` (shown by ps and in QEMU's window title). */
export function checkVmName(field: string, value: unknown): string {
  return checkWord(field, value, 'a name of at most 64 characters', 64);
}

/**
 * A `-cpu` value: a model (`host`, `qemu64`, `Haswell`) optionally followed by QEMU's
 * comma-separated features (`host,+vmx`, `qemu64,-svm`, `Haswell,check=on`); the commas
 * are meant here, as the whole value belongs to -cpu.
 */
export function checkCpuModel(field: string, value: unknown): string {
  const text = checkString(field, value, true);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*(?:,[A-Za-z0-9_.+=-]+)*$/.test(text) || text.length > 256) {
    refuse(field, `must be a CPU model like host, optionally with features (host,+vmx), got ${shown(value)}`);
  }
  return text;
}

/** The display adapters QEMU 2.8's `-vga` knows. */
export const VGA_TYPES = ['std', 'cirrus', 'vmware', 'qxl', 'xenfb', 'virtio', 'none'] as const;
/** The `-vga` types QEMU 2.8 accepts. */
export type VgaType = (typeof VGA_TYPES)[number];

/** Checks a `-vga` type, throwing `CujuArgumentError` naming `field` when it is not one QEMU 2.8 has. */
export function checkVga(field: string, value: unknown): VgaType {
  const text = checkString(field, value, true);
  const found = VGA_TYPES.find((t) => t === text);
  if (found === undefined) refuse(field, `must be one of ${VGA_TYPES.join(', ')}, got ${shown(value)}`);
  return found;
}

/**
 * The address a receiver listens on for `-incoming tcp:HOST:PORT,ft_mode`: `0` (every
 * address, what recv.sh uses) or a dotted IPv4 address of this host.
 */
export function checkListenHost(field: string, value: unknown): string {
  if (value === '0') return value;
  return checkIPv4(field, value);
}

/**
 * Extra QEMU arguments, passed as they are (argv, never through a shell): an array of
 * strings with no NUL (which argv cannot carry). Not echoed: they may hold secrets
 * (`-object secret,data=...`).
 */
export function checkArgs(field: string, value: unknown): readonly string[] {
  if (!Array.isArray(value)) refuse(field, `must be an array of strings, got ${kindOf(value)}`);
  // An index loop, not forEach: the holes of a sparse array are refused as well.
  for (let i = 0; i < value.length; i++) {
    const text = checkString(`${field}[${i}]`, value[i], false);
    if (text.includes('\u0000')) refuse(`${field}[${i}]`, 'must not contain NUL');
  }
  return value as readonly string[];
}

/** A yes/no option: a boolean, not a truthy value. */
export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') refuse(field, `must be true or false, got ${shown(value)}`);
  return value;
}

// ---------------------------------------------------------------------------------------
// Options objects and their plain fields

/** A required object (not null, not an array): `spec`, `options`. */
export function checkObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    refuse(field, `must be an object, got ${kindOf(value)}`);
  }
  return value as Record<string, unknown>;
}

/** An optional options object: undefined gives `{}`; null, arrays and other values are refused. */
export function checkOptions(field: string, value: unknown): Record<string, unknown> {
  return value === undefined ? {} : checkObject(field, value);
}

/** A string, not echoed (it may be a path, a command or a secret). */
export function checkText(field: string, value: unknown): string {
  return checkString(field, value, false);
}

/** A callback. */
export function checkFunction(field: string, value: unknown): (...args: never[]) => unknown {
  if (typeof value !== 'function') refuse(field, `must be a function, got ${kindOf(value)}`);
  return value as (...args: never[]) => unknown;
}

/** An AbortSignal (from an AbortController, or AbortSignal.timeout()). */
export function checkAbortSignal(field: string, value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) refuse(field, `must be an AbortSignal, got ${kindOf(value)}`);
  return value;
}

/**
 * A deadline in whole milliseconds, 0 to 2^31-1: Node's timers fire at once (with only a
 * warning) for anything longer, which would turn a long deadline into none.
 */
export function checkTimeoutMs(field: string, value: unknown): number {
  return checkInteger(field, value, 0, 2 ** 31 - 1);
}

/** An integer within bounds (counts, intervals). */
export function checkIntegerIn(field: string, value: unknown, min: number, max: number): number {
  return checkInteger(field, value, min, max);
}
