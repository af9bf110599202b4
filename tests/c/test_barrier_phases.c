/*
 * test_barrier_phases.c: the two-phase barrier wait (mp_barrier_arrive /
 * mp_barrier_await / mp_barrier_trip / mp_barrier_leave), which lets a
 * binding run Python's Barrier `action` before any party is released and
 * wait in slices (so that Ctrl-C is seen) without breaking the barrier.
 *
 * 1. Hold: the last party (arriving with MP_BARRIER_HOLD) holds the
 *    generation; the other processes stay asleep until it trips it, and
 *    then see what it wrote before the trip.
 * 2. An abort while held breaks the generation for the waiters, and the
 *    holder's trip then says MP_E_BROKEN.
 * 3. A slice that runs out (mp_barrier_await timing out) breaks nothing;
 *    mp_barrier_leave withdraws an arrival, or with MP_BARRIER_BREAK breaks
 *    the barrier for everyone.
 * 4. An arrival while a generation is held waits (MP_E_TIMEOUT, not
 *    counted in) and then joins the next generation.
 * 5. A second abort does not hide the first break from a party that looks
 *    at its generation late (a sliced waiter between two slices).
 * 6. Bad arguments: unknown flags, a ticket that is not held, NULL handles.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpipc.h"

#define CHECK_NAME_PREFIX "cbar"
#define CHECK_CHILD_ALARM_S 60
#include "check.h"

#include <stdatomic.h>
#include <sys/mman.h>

/* Shared with the children (an anonymous MAP_SHARED page). */
struct shared {
    atomic_int action_done; /* written by the holder before the trip */
    atomic_int returned;    /* waiters that came back from mp_barrier_await */
    atomic_int saw_action;  /* waiters that saw action_done == 1 on return */
};

static struct shared *g_sh;
static const char *g_name;

/* A waiter: arrives, then waits (in 50 ms slices) for the trip. */
static void waiter(void *arg) {
    int want_broken = *(int *)arg;
    mp_barrier *b = NULL;
    CHILD_ST(mp_barrier_open(g_name, 0, MP_OPEN_ATTACH_ONLY, &b), MP_OK, 40);
    uint32_t index = 99, ticket = 0;
    CHILD_ST(mp_barrier_arrive(b, -1, 0, &index, &ticket), MP_OK, 41);
    CHILD_REQUIRE(index < 2, 42);
    mp_status st;
    while ((st = mp_barrier_await(b, ticket, 50)) == MP_E_TIMEOUT) {
    }
    atomic_fetch_add(&g_sh->returned, 1);
    if (want_broken) {
        CHILD_REQUIRE(st == MP_E_BROKEN, 43);
    } else {
        CHILD_REQUIRE(st == MP_OK, 44);
        if (atomic_load(&g_sh->action_done) == 1)
            atomic_fetch_add(&g_sh->saw_action, 1);
    }
    mp_barrier_close(b);
}

static void wait_n_waiting(mp_barrier *b, uint32_t want) {
    uint32_t n = 0;
    double deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        CHECK_OK(mp_barrier_n_waiting(b, &n));
        if (n == want)
            return;
        sleep_ms(1);
    }
    CHECK(n == want);
}

static void hold_then_trip(int abort_instead) {
    memset(g_sh, 0, sizeof *g_sh);
    g_name = qname(abort_instead ? "abort" : "hold");
    mp_barrier *b = NULL;
    CHECK_OK(mp_barrier_open(g_name, 3, MP_OPEN_CREATE_ONLY, &b));
    int broken = abort_instead;
    pid_t k1 = spawn(waiter, &broken), k2 = spawn(waiter, &broken);
    wait_n_waiting(b, 2);
    uint32_t index = 99, ticket = 0;
    CHECK_OK(mp_barrier_arrive(b, -1, MP_BARRIER_HOLD, &index, &ticket));
    CHECK(index == 2);
    uint32_t n = 0;
    CHECK_OK(mp_barrier_n_waiting(b, &n));
    CHECK(n == 3); /* held: all arrived, none released */
    wait_asleep(k1);
    wait_asleep(k2);
    CHECK(atomic_load(&g_sh->returned) == 0);
    if (abort_instead) {
        CHECK_OK(mp_barrier_abort(b));
        CHECK_ST(mp_barrier_trip(b, ticket), MP_E_BROKEN);
    } else {
        atomic_store(&g_sh->action_done, 1);
        CHECK_OK(mp_barrier_trip(b, ticket));
    }
    CHECK_CHILD(k1, 20000, 0);
    CHECK_CHILD(k2, 20000, 0);
    CHECK(atomic_load(&g_sh->returned) == 2);
    CHECK(atomic_load(&g_sh->saw_action) == (abort_instead ? 0 : 2));
    bool br = false;
    CHECK_OK(mp_barrier_broken(b, &br));
    CHECK(br == (bool)abort_instead);
    mp_barrier_close(b);
    CHECK_OK(mp_barrier_unlink(g_name));
}

static void slices_and_leave(void) {
    const char *name = qname("leave");
    mp_barrier *b = NULL;
    CHECK_OK(mp_barrier_open(name, 2, MP_OPEN_CREATE_ONLY, &b));
    uint32_t index = 99, ticket = 0, n = 0;
    bool left = false, br = true;
    CHECK_OK(mp_barrier_arrive(b, -1, 0, &index, &ticket));
    CHECK(index == 0);
    CHECK_ST(mp_barrier_await(b, ticket, 10), MP_E_TIMEOUT); /* a slice ran out */
    CHECK_ST(mp_barrier_await(b, ticket, 0), MP_E_TIMEOUT);
    CHECK_OK(mp_barrier_broken(b, &br));
    CHECK(!br);
    CHECK_OK(mp_barrier_n_waiting(b, &n));
    CHECK(n == 1); /* the arrival stands */
    CHECK_OK(mp_barrier_leave(b, ticket, 0, &left));
    CHECK(left);
    CHECK_OK(mp_barrier_n_waiting(b, &n));
    CHECK(n == 0); /* withdrawn */
    CHECK_OK(mp_barrier_broken(b, &br));
    CHECK(!br);
    /* Leave after the generation ended: nothing done. */
    uint32_t t2 = 0;
    CHECK_OK(mp_barrier_arrive(b, -1, 0, &index, &t2));
    CHECK(index == 0);
    CHECK_OK(mp_barrier_arrive(b, -1, 0, &index, NULL)); /* the last: trips */
    CHECK(index == 1);
    CHECK_OK(mp_barrier_await(b, t2, 0));
    CHECK_OK(mp_barrier_leave(b, t2, MP_BARRIER_BREAK, &left));
    CHECK(!left);
    CHECK_OK(mp_barrier_broken(b, &br));
    CHECK(!br);
    /* Break: a timed-out wait. */
    CHECK_OK(mp_barrier_arrive(b, -1, 0, &index, &ticket));
    CHECK_OK(mp_barrier_leave(b, ticket, MP_BARRIER_BREAK, &left));
    CHECK(left);
    CHECK_ST(mp_barrier_await(b, ticket, -1), MP_E_BROKEN);
    CHECK_OK(mp_barrier_broken(b, &br));
    CHECK(br);
    CHECK_ST(mp_barrier_arrive(b, -1, 0, &index, &ticket), MP_E_BROKEN);
    CHECK_OK(mp_barrier_reset(b));
    mp_barrier_close(b);
    CHECK_OK(mp_barrier_unlink(name));
}

/* A process that arrives while a generation is held. */
static void late_arrival(void *arg) {
    (void)arg;
    mp_barrier *b = NULL;
    CHILD_ST(mp_barrier_open(g_name, 0, MP_OPEN_ATTACH_ONLY, &b), MP_OK, 50);
    uint32_t index = 99;
    CHILD_ST(mp_barrier_arrive(b, -1, 0, &index, NULL), MP_OK, 51); /* waits for the trip */
    atomic_fetch_add(&g_sh->returned, 1);
    CHILD_REQUIRE(index == 0, 52); /* the next generation's only party: trips it */
    mp_barrier_close(b);
}

static void arrival_while_held(void) {
    memset(g_sh, 0, sizeof *g_sh);
    g_name = qname("held");
    mp_barrier *b = NULL;
    CHECK_OK(mp_barrier_open(g_name, 1, MP_OPEN_CREATE_ONLY, &b));
    uint32_t index = 99, ticket = 0, t2 = 0, n = 0;
    CHECK_OK(mp_barrier_arrive(b, -1, MP_BARRIER_HOLD, &index, &ticket));
    CHECK(index == 0);
    CHECK_ST(mp_barrier_arrive(b, 10, 0, &index, &t2), MP_E_TIMEOUT); /* not counted in */
    CHECK_OK(mp_barrier_n_waiting(b, &n));
    CHECK(n == 1);
    pid_t k = spawn(late_arrival, NULL);
    wait_asleep(k);
    CHECK(atomic_load(&g_sh->returned) == 0);
    CHECK_OK(mp_barrier_trip(b, ticket));
    CHECK_CHILD(k, 20000, 0);
    CHECK(atomic_load(&g_sh->returned) == 1);
    CHECK_ST(mp_barrier_trip(b, ticket), MP_E_BROKEN); /* that generation has ended */
    mp_barrier_close(b);
    CHECK_OK(mp_barrier_unlink(g_name));
}

/* mp_barrier_wait while another party holds the generation (its holder
 * may have died holding it): the wait ends at its timeout and breaks the
 * barrier, as any timed-out wait does, instead of waiting forever (the
 * segment fuzz target hung on a damaged held barrier). */
static void wait_while_held_times_out(void) {
    const char *name = qname("heldwait");
    mp_barrier *b = NULL;
    CHECK_OK(mp_barrier_open(name, 1, MP_OPEN_CREATE_ONLY, &b));
    uint32_t index = 99, ticket = 0;
    CHECK_OK(mp_barrier_arrive(b, -1, MP_BARRIER_HOLD, &index, &ticket));
    CHECK_ST(mp_barrier_wait(b, 0, &index), MP_E_BROKEN);
    CHECK_ST(mp_barrier_wait(b, 10, &index), MP_E_BROKEN);
    CHECK_ST(mp_barrier_trip(b, ticket), MP_E_BROKEN); /* the held generation was broken */
    CHECK_OK(mp_barrier_reset(b));
    CHECK_OK(mp_barrier_wait(b, 0, &index)); /* one party: trips at once */
    mp_barrier_close(b);
    CHECK_OK(mp_barrier_unlink(name));
}

static void second_abort(void) {
    const char *name = qname("abort2");
    mp_barrier *b = NULL;
    CHECK_OK(mp_barrier_open(name, 2, MP_OPEN_CREATE_ONLY, &b));
    uint32_t index = 99, ticket = 0;
    CHECK_OK(mp_barrier_arrive(b, -1, 0, &index, &ticket));
    CHECK_OK(mp_barrier_abort(b));
    CHECK_OK(mp_barrier_abort(b));
    CHECK_ST(mp_barrier_await(b, ticket, 0), MP_E_BROKEN);
    CHECK_OK(mp_barrier_reset(b));
    mp_barrier_close(b);
    CHECK_OK(mp_barrier_unlink(name));
}

static void bad_arguments(void) {
    const char *name = qname("bad");
    mp_barrier *b = NULL;
    CHECK_OK(mp_barrier_open(name, 2, MP_OPEN_CREATE_ONLY, &b));
    uint32_t index = 99, ticket = 0;
    bool left = true;
    CHECK_ST(mp_barrier_arrive(b, -1, 0x80, &index, &ticket), MP_E_INVAL);
    CHECK_ST(mp_barrier_leave(b, 0, MP_BARRIER_HOLD, &left), MP_E_INVAL);
    CHECK_OK(mp_barrier_arrive(b, -1, 0, &index, &ticket));
    CHECK_ST(mp_barrier_trip(b, ticket), MP_E_INVAL); /* filling, not held */
    CHECK_ST(mp_barrier_trip(b, ticket + 5), MP_E_BROKEN);
    CHECK_OK(mp_barrier_leave(b, ticket, 0, NULL));
    CHECK_ST(mp_barrier_arrive(NULL, -1, 0, &index, &ticket), MP_E_NULL);
    CHECK_ST(mp_barrier_await(NULL, 0, 0), MP_E_NULL);
    CHECK_ST(mp_barrier_trip(NULL, 0), MP_E_NULL);
    CHECK_ST(mp_barrier_leave(NULL, 0, 0, &left), MP_E_NULL);
    mp_barrier_close(b);
    CHECK_OK(mp_barrier_unlink(name));
}

int main(void) {
    double t0 = now_ms();
    start_watchdog("test_barrier_phases", 120);
    g_check_on_fail = kill_kids;
    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_sh != MAP_FAILED);

    g_section = "1. hold, then trip";
    hold_then_trip(0);
    g_section = "2. abort while held";
    hold_then_trip(1);
    g_section = "3. slices and leave";
    slices_and_leave();
    g_section = "4. an arrival while held";
    arrival_while_held();
    g_section = "5. a second abort";
    second_abort();
    g_section = "5b. a wait while another party holds the generation";
    wait_while_held_times_out();
    g_section = "6. bad arguments";
    bad_arguments();
    return check_summary("test_barrier_phases", t0);
}
