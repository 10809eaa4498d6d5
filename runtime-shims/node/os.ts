// node:os: constants and safe, fixed values. A function sees no machine: reporting the host's
// CPUs, memory, interfaces or uptime would leak facts about the platform to tenants.
export const EOL = '\n';
export const devNull = '/dev/null';
export const constants = {
  signals: {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGILL: 4,
    SIGTRAP: 5,
    SIGABRT: 6,
    SIGBUS: 7,
    SIGFPE: 8,
    SIGKILL: 9,
    SIGUSR1: 10,
    SIGSEGV: 11,
    SIGUSR2: 12,
    SIGPIPE: 13,
    SIGALRM: 14,
    SIGTERM: 15,
  },
  errno: {
    E2BIG: 7,
    EACCES: 13,
    EADDRINUSE: 98,
    EAGAIN: 11,
    EBADF: 9,
    ECONNREFUSED: 111,
    ECONNRESET: 104,
    EEXIST: 17,
    EINVAL: 22,
    EISDIR: 21,
    ENOENT: 2,
    ENOTDIR: 20,
    EPERM: 1,
    EPIPE: 32,
    ETIMEDOUT: 110,
  },
  priority: {
    PRIORITY_LOW: 19,
    PRIORITY_BELOW_NORMAL: 10,
    PRIORITY_NORMAL: 0,
    PRIORITY_ABOVE_NORMAL: -7,
    PRIORITY_HIGH: -14,
    PRIORITY_HIGHEST: -20,
  },
  dlopen: {},
  UV_UDP_REUSEADDR: 4,
};
export const arch = () => 'x64';
export const platform = () => 'linux';
export const type = () => 'Linux';
export const release = () => '';
export const version = () => '';
export const machine = () => 'x86_64';
export const hostname = () => 'localhost';
export const homedir = () => '/';
export const tmpdir = () => '/tmp';
export const endianness = () => 'LE';
export const uptime = () => 0;
export const loadavg = () => [0, 0, 0];
export const totalmem = () => 0;
export const freemem = () => 0;
export const availableParallelism = () => 1;
export const cpus = () => [];
export const networkInterfaces = () => ({});
export const userInfo = () => ({ uid: -1, gid: -1, username: 'islet', homedir: '/', shell: null });
export const getPriority = () => 0;
export const setPriority = () => {
  throw new Error('os.setPriority() is not available in islet');
};
export default {
  EOL,
  devNull,
  constants,
  arch,
  platform,
  type,
  release,
  version,
  machine,
  hostname,
  homedir,
  tmpdir,
  endianness,
  uptime,
  loadavg,
  totalmem,
  freemem,
  availableParallelism,
  cpus,
  networkInterfaces,
  userInfo,
  getPriority,
  setPriority,
};
