/**
 * An application process with neither an orchestrator nor a worker: it creates one task (TEST_REQUEST) through
 * a `Tasker` connection, awaits its result, and prints it as one JSON line (exit 1 with the error otherwise).
 */
import { createTasker } from '../../src/results/tasker.js';
import type { CreateTaskRequest } from '../../src/orchestration/task-creator.js';
import { testConfig } from './engine.js';

const tasker = createTasker({ config: testConfig(process.env.TEST_DATABASE_URL!) });
try {
  const task = await tasker.createTask(JSON.parse(process.env.TEST_REQUEST!) as CreateTaskRequest);
  const results = await task.result({ timeoutMs: 30_000 });
  process.stdout.write(`${JSON.stringify({ taskUuid: task.taskUuid, results })}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`);
  process.exitCode = 1;
} finally {
  await tasker.close();
}
