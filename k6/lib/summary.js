// The shard summary a script's handleSummary writes: what this k6 instance
// (one execution segment of a possibly distributed test) sent and was told,
// for `countlab check --from-log --summary FILE`. Pure: it reads k6's
// end-of-test data object and imports nothing.

// The metric names the scripts count into (k6.js makes them Counters).
export const metricNames = {
  acknowledged: 'countlab_events_acknowledged',
  refused: 'countlab_events_refused',
  failed: 'countlab_events_failed',
  copies: 'countlab_event_copies_accepted',
  ack: 'countlab_ack_ms',
};

// summaryVersion is the "countlab_shard_summary" field: the format's version.
export const summaryVersion = 1;

function count(data, name) {
  const m = data.metrics[name];
  return m && m.values && m.values.count !== undefined ? m.values.count : 0;
}

// thresholdsOK is false when any threshold of the run failed.
function thresholdsOK(data) {
  for (const name of Object.keys(data.metrics)) {
    const th = data.metrics[name].thresholds;
    if (!th) continue;
    for (const k of Object.keys(th)) if (!th[k].ok) return false;
  }
  return true;
}

// shardSummary is the summary object of one instance:
//
//   countlab_shard_summary  the format version (1)
//   run_id, id_prefix       every event id of the run starts with id_prefix
//   segment                 the instance's execution segment ("0:1" alone)
//   started_at, duration_s  when the test ran (check --from-log --from/--to)
//   acknowledged            distinct valid events the target accepted
//   refused                 events it refused as invalid
//   failed                  distinct events whose outcome stayed unknown
//   copies                  accepted copies (duplicates included)
//   dropped_iterations      iterations the open model could not start
//   thresholds_ok           every threshold held
export function shardSummary(data, run) {
  const ms = data.state.testRunDurationMs;
  return {
    countlab_shard_summary: summaryVersion,
    run_id: run.runId,
    id_prefix: run.idPrefix,
    segment: run.segment || '0:1',
    started_at: new Date(run.nowMs - ms).toISOString(),
    duration_s: ms / 1000,
    acknowledged: count(data, metricNames.acknowledged),
    refused: count(data, metricNames.refused),
    failed: count(data, metricNames.failed),
    copies: count(data, metricNames.copies),
    dropped_iterations: count(data, 'dropped_iterations'),
    thresholds_ok: thresholdsOK(data),
  };
}

// summaryText is the one-paragraph verdict printed to stdout.
export function summaryText(s, file) {
  return (
    `countlab k6 ${s.run_id} segment ${s.segment}: ${s.thresholds_ok ? 'thresholds PASS' : 'thresholds FAIL'} in ${s.duration_s.toFixed(1)}s; ` +
    `acknowledged ${s.acknowledged}, refused ${s.refused}, failed ${s.failed}, dropped iterations ${s.dropped_iterations}\n` +
    (file ? `  shard summary: ${file}\n` : '') +
    `  check: countlab check --from-log --id-prefix ${s.id_prefix} --summary ${file || 'FILE'} --brokers ... --query ...\n`
  );
}

// stdoutPrefix starts the summary's line on stdout when file is "-" (a
// k6-operator runner, whose files are not kept: kubectl logs has it).
export const stdoutPrefix = 'countlab-shard-summary: ';

// summaryOutputs is handleSummary's return value: the text on stdout and
// the JSON in file (none when file is ""; one line on stdout after
// stdoutPrefix when file is "-").
export function summaryOutputs(data, run, file) {
  const s = shardSummary(data, run);
  if (file === '-') return { stdout: summaryText(s, '') + stdoutPrefix + JSON.stringify(s) + '\n' };
  const out = { stdout: summaryText(s, file) };
  if (file) out[file] = JSON.stringify(s, null, 2) + '\n';
  return out;
}
