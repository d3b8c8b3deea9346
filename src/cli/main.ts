// The `skiff` command line: one file per command under commands/, wired here. Returns the exit code.

import { Command, CommanderError } from 'commander';
import { registerCa } from './commands/ca.js';
import { registerProxy } from './commands/proxy.js';
import { registerAuthn } from './commands/x-authn.js';
import { type CliIo, EXIT_FAILURE, EXIT_INVALID, processIo, UsageError } from './io.js';

export const VERSION = '0.1.0';

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('skiff')
    .description(
      "A service mesh with Istio's peer-authentication model (PERMISSIVE, STRICT and DISABLE mutual TLS)",
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)');
  const ca = registerCa(program, io, setExit);
  const proxy = registerProxy(program, io, setExit);
  const experimental = program.command('x').description('experimental commands, as istioctl x');
  registerAuthn(experimental, io, setExit);
  for (const command of [program, ca, ...ca.commands, proxy, experimental, ...experimental.commands]) {
    command.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  }
  return program;
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
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
