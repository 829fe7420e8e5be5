/** oclif's parse errors span lines and end in a help hint; ours are one line already. */
export function oneLine(message: string): string {
  return message.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('See more help with'))
    .join(' ').replace(/^The following error occurred: /, '');
}
