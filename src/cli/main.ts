// The `skiff` command line: one file per command under commands/, wired here. Returns the exit code.

import { Command, CommanderError } from 'commander';
import { type CliIo, EXIT_FAILURE, EXIT_INVALID, processIo, UsageError } from './io.js';

export const VERSION = '0.1.0';

/**
 * The commands, each loaded only when it may run: `skiff proxy` should not carry the CA's X.509 and gRPC code
 * (about 30 MB of memory) or the config loader. Help and unknown commands load them all.
 */
const COMMANDS = {
  ca: async (program: Command, io: CliIo, setExit: (code: number) => void) => {
    const ca = (await import('./commands/ca.js')).registerCa(program, io, setExit);
    return [ca, ...ca.commands];
  },
  'control-plane': async (program: Command, io: CliIo, setExit: (code: number) => void) => [
    (await import('./commands/control-plane.js')).registerControlPlane(program, io, setExit),
  ],
  proxy: async (program: Command, io: CliIo, setExit: (code: number) => void) => [
    (await import('./commands/proxy.js')).registerProxy(program, io, setExit),
  ],
  x: async (program: Command, io: CliIo, setExit: (code: number) => void) => {
    const experimental = program.command('x').description('experimental commands, as istioctl x');
    (await import('./commands/x-authn.js')).registerAuthn(experimental, io, setExit);
    return [experimental, ...experimental.commands];
  },
};

/** The first word that is not an option: the command to load. */
function commandOf(argv: readonly string[]): keyof typeof COMMANDS | undefined {
  const first = argv.find((a) => !a.startsWith('-'));
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? (first as keyof typeof COMMANDS) : undefined;
}

export async function buildProgram(
  io: CliIo,
  setExit: (code: number) => void,
  argv: readonly string[] = [],
): Promise<Command> {
  const program = new Command('skiff')
    .description(
      "A service mesh with Istio's peer-authentication model (PERMISSIVE, STRICT and DISABLE mutual TLS)",
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)');
  const only = commandOf(argv);
  const commands: Command[] = [program];
  for (const [name, register] of Object.entries(COMMANDS)) {
    if (only === undefined || only === name) commands.push(...(await register(program, io, setExit)));
  }
  for (const command of commands) {
    command.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  }
  return program;
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code = 0;
  const program = await buildProgram(
    io,
    (c) => {
      code = c;
    },
    argv,
  );
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exit code 0; everything else commander refuses is a usage error.
      return e.exitCode === 0 ? 0 : EXIT_INVALID;
    }
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n`);
      return EXIT_INVALID;
    }
    io.err(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_FAILURE;
  }
}
