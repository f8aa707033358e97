/** Awaitable task results: handles, the finished-task event, bulk creation and the `Tasker` connection. */
export { createTasker, Tasker, type TaskerOptions } from './tasker.js';
export type { TaskHandle, CreatedTaskHandle, CreateTasksHandleItem } from './handle.js';
export type { ResultOptions } from './source.js';
export type { TaskResults } from './outcome.js';
export type { TaskFinishedEvent, FinishedTaskState } from './registry.js';
export { createTasks, type CreateTasksItem } from '../orchestration/bulk-create.js';
