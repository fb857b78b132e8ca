// Event ids unique across VUs, k6 instances and execution segments. Pure:
// imports nothing.
//
// An id is RUN-ITERATION-INDEX: RUN is the run id (the same on every
// instance of a distributed test: pass -e RUN_ID=...), ITERATION the
// test-wide iteration number (k6/execution's exec.scenario.iterationInTest,
// unique over all instances and segments) and INDEX the event's place in
// the iteration's batch. A re-send of a batch after an error keeps its ids.
// The scenario name goes in front of ITERATION when a script runs several
// scenarios that send events (their iterationInTest counters overlap).

const runIdPattern = /^[A-Za-z0-9_.:-]{1,48}$/;

// checkRunId returns runId, or throws naming what a run id may hold.
export function checkRunId(runId) {
  if (!runIdPattern.test(runId)) {
    throw new Error(`RUN_ID ${JSON.stringify(runId)}: want 1-48 characters of A-Z a-z 0-9 _ . : - (it starts every event id)`);
  }
  return runId;
}

// defaultRunId is a run id unique to this process start: "k6-" and the time
// in base 36. A distributed test must pass one RUN_ID to every instance.
export function defaultRunId(nowMs) {
  return 'k6-' + Math.floor(nowMs).toString(36);
}

// idPrefix starts every id of the run (check --from-log --id-prefix).
export function idPrefix(runId) {
  return runId + '-';
}

// eventId is the id of event index of iteration (of scenario, "" for the
// script's only sending scenario).
export function eventId(runId, scenario, iteration, index) {
  const s = scenario ? scenario + '.' : '';
  return `${runId}-${s}${iteration}-${index}`;
}
