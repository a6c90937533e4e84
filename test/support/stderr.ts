/** The lines `fn` writes to stderr (where the library's warnings go). */
export function stderrOf(fn: () => void): string[] {
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => { written.push(String(chunk)); return true; });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return written;
}
