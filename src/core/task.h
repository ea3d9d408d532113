/* task: the run queue the loop drains in batches, and tasks with a mailbox.
 * Plain C with callbacks; knows nothing of Lua. A callback task is a
 * function and a pointer, run once; a task is a queue of messages (opaque
 * words) and a callback the run queue calls when it has something to do. */
#ifndef MW_TASK_H
#define MW_TASK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct task;

typedef void (*task_fn)(void *ud);
typedef void (*task_ready_fn)(struct task *task, void *ud);

/* The loop that drains the run queue; entries queued before a loop is set
 * run once it is. NULL, at shutdown, frees its event and drops what is
 * still queued (the tasks' owners must have stopped them by then). */
int task_set_base(struct event_base *base);
/* Queues fn(ud) to run from the loop after the current callback returns, in
 * order. What is queued while a batch runs waits for the next batch, after
 * the loop has polled sockets and timers. Returns 0, or -1 (ENOMEM). */
int task_spawn(task_fn fn, void *ud);
/* Entries in the run queue. */
size_t task_queued(void);

/* A task whose ready(task, ud) runs from the run queue when it was woken,
 * or when it listens and its mailbox is not empty; NULL on ENOMEM, or EINVAL
 * past 8 different ready functions in a process (one per kind of task). */
struct task *task_new(task_ready_fn ready, void *ud);
/* Appends msg to the mailbox. Returns 0, or -1 with errno EPIPE (the task
 * is stopped) or ENOMEM. */
int task_send(struct task *task, uintptr_t msg);
/* Takes the oldest message into *msg; returns 1, or 0 when there is none. */
int task_receive(struct task *task, uintptr_t *msg);
/* While on, a message in the mailbox makes the task ready. Returns 0, or
 * -1 (ENOMEM) when it could not be queued. */
int task_listen(struct task *task, int on);
/* Makes the task ready once. Returns 0, or -1 (ENOMEM, or EPIPE if stopped). */
int task_wake(struct task *task);
/* Ends the task: ready is never called again, messages still queued are
 * dropped (take them first if they own something), the memory is freed
 * once the run queue no longer refers to it. The handle is not used after. */
void task_stop(struct task *task);
/* Tasks created and not yet stopped. */
size_t task_count(void);

#endif
