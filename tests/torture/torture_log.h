/*
 * The fault torture's shared bookkeeping, as seen from C (tests/torture).
 *
 * One file per scenario, /dev/shm/mpipc-torture-<run>-<scenario>.log,
 * mapped MAP_SHARED by the orchestrator (torture.py) and by every worker
 * (worker.c, worker.py). It is an array of little-endian u64 words, then
 * bitmaps. A store to a shared mapping survives the SIGKILL of the process
 * that made it, so the orchestrator reads, after a kill, exactly what the
 * victim had recorded before it died. Each slot is written by one worker
 * at a time (the orchestrator waits for a victim's death before it
 * respawns the slot), so no word needs an atomic read-modify-write; the
 * global words are written by the orchestrator (or by the one worker a
 * scenario says owns them).
 *
 * The same numbers are in worker.py and torture.py (class Log); torture.py
 * checks at start-up that the three agree (`worker --layout`).
 */
#ifndef MPIPC_TORTURE_LOG_H
#define MPIPC_TORTURE_LOG_H

/* Global words. */
#define G_STOP 0     /* 1: workers finish (each scenario says how) */
#define G_FLAG 1     /* scenario phase: queue drained, semaphore pause epoch */
#define G_GEN 2      /* event: the last generation set */
#define G_SETNS 3    /* event: CLOCK_MONOTONIC ns of that set */
#define G_ABORTS 4   /* barrier: aborts done by the orchestrator */
#define G_WORDS 16

/* Slots: SLOT_WORDS words each, from word G_WORDS. */
#define MAX_SLOTS 16
#define SLOT_WORDS 32
#define S_PID 0      /* the worker's pid */
#define S_READY 1    /* 1 once initialised (the orchestrator kills only ready workers) */
#define S_STATE 2    /* where the worker is (role-specific, read after a kill) */
#define S_OPS 3      /* completed operations */
#define S_ERR 4      /* unexpected results (also printed on stderr) */
#define S_CORRUPT 5  /* corrupt / invalid data seen */
#define S_DUP 6      /* duplicates seen */
#define S_SEQ 7      /* next sequence number (burnt before use) */
#define S_PEND 8     /* queue consumer: messages it may lose if killed now */
#define S_ACK 9      /* acknowledged operations (pipe sender: messages sent) */
#define S_TD 10      /* joinable consumer: task_done calls that returned OK */
#define S_TDPEND 11  /* joinable consumer: 1 inside task_done */
#define S_OWNDEAD 12 /* locks: acquisitions that reported a dead owner */
#define S_REPAIR 13  /* repairs of half-updated data */
#define S_STALL 14   /* condition: timed-out waits whose predicate was true */
#define S_SEEN 15    /* event: last generation seen; barrier: aborts seen */
#define S_LATMAX 16  /* event: worst wake-up latency (ns) */
#define S_EOF 17     /* EOFs seen (peer gone) */
#define S_AUX1 18
#define S_AUX2 19
#define S_AUX3 20
#define S_AUX4 21
#define S_BROKEN 22  /* barrier: BROKEN results */
#define S_PARK 23    /* semaphore: pause epoch the worker parked for */
#define S_NULLS 24   /* shareable list: items seen turning to null */

/* Bitmaps (queue): from byte BM_BASE, bitmap k at BM_BASE + k * (max_seq / 8). */
#define BM_BASE 8192

/* Worker exit statuses. */
#define EXIT_OK 0
#define EXIT_FAIL 1     /* an unexpected result */
#define EXIT_DEADLOCK 3 /* a bounded wait ran out */

#endif
