// The `islet` command line: serve, deploy, dev and the admin helpers.
export async function main(argv: string[]): Promise<void> {
  const [command] = argv;
  throw new Error(`unknown command: ${command ?? '(none)'}`);
}
