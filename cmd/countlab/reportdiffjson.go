package main

// reportDiffJSON is report diff's --json: withOps takes it out of the
// arguments and reportDiff.write asks it.
var reportDiffJSON bool

// reportHelpMore follows reportUsage in `countlab report -h`.
const reportHelpMore = `
--json (diff) prints the comparison as typed JSON instead of the table; the
exit code is the same.

example:
  countlab report diff baseline/report.json reports/out/quickstart-20260101T100000Z/report.json --json

environment:
  none

Run 'countlab report diff -h' or 'countlab report html -h' for their flags.
`
