/** The command line: which container, which port, which command. */
export interface Args {
  /** An LXC container ({ name, lxcpath }) or an OCI one ({ oci, root }). */
  readonly target: { name: string; lxcpath?: string } | { oci: string; root?: string };
  readonly port: number;
  /** The command to run; empty: the container's default shell. */
  readonly command: readonly string[];
}

export const usage = `usage: web-terminal (--name NAME [-P LXCPATH] | --oci ID [--oci-root DIR]) [--port N] [-- COMMAND...]
  Serves the container's shell (or COMMAND) to a browser: open the URL it prints.`;

/** Throws an Error with a one-line reason for a bad command line. */
export function parseArgs(argv: readonly string[]): Args {
  let name: string | undefined;
  let lxcpath: string | undefined;
  let oci: string | undefined;
  let ociRoot: string | undefined;
  let port = 0;
  let command: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--name': case '-n': name = value(); break;
      case '--lxcpath': case '-P': lxcpath = value(); break;
      case '--oci': oci = value(); break;
      case '--oci-root': ociRoot = value(); break;
      case '--port': {
        const v = value();
        port = Number(v);
        if (!/^\d+$/.test(v) || port > 65535) throw new Error(`--port: not a port number: ${v}`);
        break;
      }
      case '--':
        command = argv.slice(i + 1) as string[];
        i = argv.length;
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  if ((name === undefined) === (oci === undefined)) throw new Error('give one container: --name NAME or --oci ID');
  if (name !== undefined && ociRoot !== undefined) throw new Error('--oci-root goes with --oci');
  if (oci !== undefined && lxcpath !== undefined) throw new Error('-P goes with --name');
  const target = name !== undefined
    ? { name, ...(lxcpath === undefined ? {} : { lxcpath }) }
    : { oci: oci!, ...(ociRoot === undefined ? {} : { root: ociRoot }) };
  return { target, port, command };
}
