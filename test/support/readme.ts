import * as fs from 'fs';
import * as path from 'path';

/**
 * The files of a quick start exactly as the README shows them: each fenced block that follows a
 * `<!-- quickstart-<kind>: <file> -->` marker, keyed by that file name (`shell` for the commands).
 * Tests build the consumer apps from these texts, so the README cannot drift from what works.
 */
export function readmeQuickStart(kind: 'ts' | 'python'): Map<string, string> {
  const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
  const marker = new RegExp(`<!-- quickstart-${kind}: (\\S+) -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\`\\n`, 'g');
  const files = new Map<string, string>();
  for (const [, name, text] of readme.matchAll(marker)) {
    if (files.has(name)) throw new Error(`README: two quickstart-${kind} blocks for ${name}`);
    files.set(name, text);
  }
  if (files.size === 0) throw new Error(`README: no quickstart-${kind} blocks`);
  return files;
}

/** The shell block's commands, one per line, without comments and blank lines. */
export function shellCommands(block: string): string[] {
  return block.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter((line) => line && !line.startsWith('#'));
}

/** The version of a package installed in the repository's node_modules (what the library is built and tested with). */
export function installedVersion(pkg: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.resolve(__dirname, '..', '..', 'node_modules', pkg, 'package.json')).version;
}
