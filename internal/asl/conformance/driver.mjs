// driver.mjs runs one ASL definition in aws-local-stepfunctions (the
// oracle of internal/asl's conformance test) with scripted task results.
// Input (stdin, JSON): an array of {definition, input, context, tasks: {State: [{return: v} | {throw: {error, cause}}]}}.
// Output (stdout, JSON): an array of {status, output, error, cause, path, taskInputs}.
import { StateMachine } from 'aws-local-stepfunctions';

// The oracle overwrites context.Execution.StartTime with the wall clock
// (execute() in main.node.esm.js: StartTime: new Date().toISOString(), its
// only use of the argument-less Date constructor). To run an execution that
// started when the spec says, the argument-less constructor gives that time
// while a spec runs; Date.now() and every other use stay real.
const RealDate = Date;
let pinnedStart = null;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0 && pinnedStart !== null) super(pinnedStart);
    else super(...args);
  }
};

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const specs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = [];
for (const spec of specs) {
  try {
    results.push(await runOne(spec));
  } catch (e) {
    results.push({ status: 'LOAD_ERROR', error: String(e.message ?? e), path: [], taskInputs: [] });
  }
}
process.stdout.write(JSON.stringify(results));

async function runOne(spec) {

const waits = {};
const retries = {};
const handlers = {};
const taskInputs = [];
function visit(states) {
  for (const [name, st] of Object.entries(states)) {
    if (st.Type === 'Wait') waits[name] = 0;
    if (st.Retry) retries[name] = 0;
    if (st.Type === 'Task') {
      const script = (spec.tasks ?? {})[name] ?? [];
      let call = 0;
      handlers[name] = async (input) => {
        taskInputs.push({ state: name, input });
        const step = script[Math.min(call, script.length - 1)] ?? { return: null };
        call++;
        if (step.throw) {
          const e = new Error(step.throw.cause ?? '');
          e.name = step.throw.error;
          throw e;
        }
        return step.return;
      };
    }
    for (const b of st.Branches ?? []) visit(b.States);
    if (st.ItemProcessor) visit(st.ItemProcessor.States);
    if (st.Iterator) visit(st.Iterator.States);
  }
}
visit(spec.definition.States);

// The oracle's own validation (asl-validator, ~300 ms a definition) is
// skipped: the Go side loads every definition first, and statemachines_test
// runs asl-validator on the project's files.
pinnedStart = spec.context?.Execution?.StartTime ?? null;
const sm = new StateMachine(spec.definition, { validationOptions: { noValidate: true } });
const ex = sm.run(spec.input, {
  overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: retries },
  context: spec.context,
});
const path = [];
const logs = (async () => {
  for await (const ev of ex.eventLogs) {
    if (ev.type === 'StateEntered') path.push(ev.state.name);
  }
})();
const res = { status: 'SUCCEEDED', path, taskInputs };
try {
  res.output = await ex.result;
} catch (e) {
  res.status = 'FAILED';
  const inner = e.cause ?? e;
  res.error = inner.name;
  res.cause = inner.message;
}
await logs;
pinnedStart = null;
return res;
}
