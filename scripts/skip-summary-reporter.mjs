// A test reporter that prints nothing while the tests run and, at the end, one line per test
// that was skipped with its reason (a system program that is absent, an extension the reference
// library lacks). It runs beside the spec reporter (scripts/run-tests.js), so a bare machine's
// `npm test` says plainly what it did not run and how to make it run.
export default async function* skipSummary(source) {
  const skipped = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { skip, name, file } = event.data;
    if (skip === undefined || skip === false) continue;
    skipped.push({ name, file, reason: typeof skip === 'string' ? skip : 'skipped' });
  }
  if (skipped.length === 0) return;
  yield `\nskipped ${skipped.length} test(s):\n`;
  for (const s of skipped) {
    const where = s.file ? ` (${s.file.replace(/^.*\/dist\/test\//, 'test/').replace(/\.js$/, '.ts')})` : '';
    yield `  - ${s.name}${where}: ${s.reason}\n`;
  }
}
