/*
 * test_security.c: the security defaults of issue #11, through the C ABI,
 * across real processes (docs/SECURITY.md says what each check stands for).
 *
 *  1. Modes. Every kind of named object (queue, shm, array, value, slist,
 *     lock, rlock, sem, event, cond, barrier), a unix-socket listener and a
 *     manager server's socket are created mode 0600, even with umask 0
 *     (stat(2) of /dev/shm/mpipc.<kind>.<name> and of the socket file).
 *  2. Another user. A child that drops to nobody (setgroups, setgid,
 *     setuid 65534) tries every object (create-or-attach and attach-only:
 *     MP_E_PERM), their unlink (MP_E_PERM: /dev/shm is sticky), a connect
 *     to the listener's and to the manager's socket (MP_E_PERM), and to an
 *     abstract-socket listener that has an authkey (MP_E_AUTH; the
 *     listener's accept sees MP_E_AUTH too); to a keyless abstract
 *     listener (no file mode there: the listener checks the peer's uid
 *     and its accept says MP_E_PERM, the intruder reads EOF; one bound
 *     with MP_LISTENER_ALLOW_OTHER_USERS accepts it). Name
 *     squatting: nobody creates a world-writable queue under a name the
 *     owner then opens; the owner's private open refuses it (MP_E_PERM),
 *     an explicit wider mode or MPQ_ANY_OWNER / MP_OPEN_ANY_OWNER (also
 *     for a lock of nobody's, as root inspecting it would) shares it. Then the owner checks that
 *     nothing changed: every object still holds what it held and works,
 *     the listener and the manager still serve. Needs root with CAP_SETUID
 *     (CI runs the tests as root); where a child cannot switch to nobody,
 *     the section prints SKIPPED and why.
 *  3. TCP and keys. A TCP listener, a TCP manager server and a TCP client
 *     without an authkey: MP_E_INVAL (the explicit opt-out
 *     MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY binds). A client with a wrong
 *     key: MP_E_AUTH at both ends. A keyless client of a keyed unix
 *     listener receives the challenge, never data, and its accept fails
 *     MP_E_AUTH; a keyless manager client of a keyed server gets MP_E_AUTH
 *     at its first call. Keys that differ from the right one in a single
 *     byte, at every position of a 32-byte key: MP_E_AUTH. (The digest
 *     comparison itself, byte by byte: tests/security.rs.)
 *  4. Frames are limited before allocation. A peer announcing 2^63, 2^32,
 *     2^31 - 1 bytes (over the 1 GiB default): MP_E_TOOBIG, the connection
 *     stays broken; -2: MP_E_CORRUPT; with max_frame raised to UINT64_MAX,
 *     2^63: MP_E_TOOBIG (the allocation is refused, not attempted
 *     blindly); 512 MiB announced then EOF: MP_E_EOF and the peak RSS
 *     (VmHWM) does not move (nothing zero-filled). The manager server (a
 *     child) answers a 2^63 and a 65 MiB request frame with
 *     [0, MP_E_TOOBIG, msg] and closes that connection only, its VmHWM
 *     unchanged; a manager client whose server (a fake, in a child)
 *     announces a 2^63-byte reply gets MP_E_TOOBIG.
 *  5. Lengths read from shared memory. Segment files are corrupted with
 *     pwrite(2): a queue record length (2^63, over max_message, over the
 *     bytes queued), its geometry (max_message 2^64 - 1, capacity 2^62) and
 *     state (tail 2^62); a ShareableList item length, entry offset, count
 *     and data length; an array's length and itemsize; a block's size; the
 *     common header's total_size, a truncated file, a wrong kind. Each
 *     gives its status (MP_E_CORRUPT, MP_E_TYPE), in this process and in a
 *     freshly attaching child; nothing crashes, VmHWM does not grow; once
 *     the bytes are restored the object works and still holds its data.
 *  6. Names. "", "/", ".", "..", "../x", "a/b", "/a/b", ".hidden", "a b",
 *     "x\n", non-UTF-8 and 201-byte names are MP_E_INVAL for every
 *     constructor and every unlink (200 bytes works); /dev/shm gains no
 *     entry and nothing appears in /dev, /tmp or the working directory.
 *     (A NUL inside a name cannot be passed through a C string; the Rust
 *     API refuses it: src/segment's names_are_validated.)
 *
 * fork() and threads: mp_mgr_serve starts threads, so this process never
 * serves; manager servers run in forked children.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define CHECK_NAME_PREFIX "csec"
#define CHECK_CHILD_ALARM_S 60
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define T_MS 10000
#define NOBODY 65534

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* A field of /proc/<pid>/status in kB; the test needs it readable. */
static long proc_kb(pid_t pid, const char *field) {
    long kb = proc_status_kb(pid, field);
    CHECK(kb >= 0);
    return kb;
}

/* The permission bits of `path` (-1 if it cannot be stat'ed). */
static int file_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int)(st.st_mode & 07777);
}

/* The segment file of `name` for the file prefix `prefix` ("mpipc.q."). */
static const char *seg_path(const char *prefix, const char *name) {
    static char buf[8][300];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "/dev/shm/%s%s", prefix, name);
    return p;
}

static uint64_t pread_u64(const char *path, off_t off) {
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    uint64_t v = 0;
    CHECK(pread(fd, &v, 8, off) == 8);
    close(fd);
    return v;
}

static void pwrite_n(const char *path, off_t off, const void *p, size_t n) {
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, p, n, off) == (ssize_t)n);
    close(fd);
}

static void pwrite_u64(const char *path, off_t off, uint64_t v) {
    pwrite_n(path, off, &v, 8);
}

static void pwrite_u32(const char *path, off_t off, uint32_t v) {
    pwrite_n(path, off, &v, 4);
}

/* Every kind's unlink, for the cleanup of a failed run. */
static void unlink_every_kind(const char *n) {
    (void)mpq_unlink(n);
    (void)mp_shm_unlink(n);
    (void)mp_array_unlink(n);
    (void)mp_slist_unlink(n);
    (void)mp_lock_unlink(n);
    (void)mp_sem_unlink(n);
    (void)mp_event_unlink(n);
    (void)mp_cond_unlink(n);
    (void)mp_barrier_unlink(n);
}

static void on_fail(void) {
    kill_kids();
    for (int i = 0; i < g_nnames; i++)
        unlink_every_kind(g_names[i]);
}

/* A raw AF_UNIX stream socket connected to `path` (no library). */
static int raw_connect(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CHECK(strlen(path) < sizeof sa.sun_path);
    strcpy(sa.sun_path, path);
    double deadline = now_ms() + T_MS;
    while (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        CHECK(now_ms() < deadline); /* the server child is still starting */
        sleep_ms(10);
    }
    return fd;
}

/* Reads exactly `n` bytes (each read bounded by T_MS): 1, or 0 on EOF. */
static int read_exact(int fd, void *p, size_t n) {
    char *c = p;
    while (n > 0) {
        ssize_t r = read_timeout(fd, c, n, T_MS);
        CHECK(r >= 0);
        if (r == 0)
            return 0;
        c += r;
        n -= (size_t)r;
    }
    return 1;
}

/* A long-form frame header announcing `len` bytes (ff ff ff ff + u64 BE). */
static void long_header(uint8_t h[12], uint64_t len) {
    memset(h, 0xff, 4);
    for (int i = 0; i < 8; i++)
        h[4 + i] = (uint8_t)(len >> (56 - 8 * i));
}

/* Address of a listener/server, for a child to connect to. */
static void addr_of_listener(mp_listener *l, char *buf, size_t cap) {
    size_t n;
    CHECK_OK(mp_listener_address(l, buf, cap, &n));
}

/* A manager server at `addr` (key optional) in a forked child, so that its
 * threads never live in this process, which forks. The child serves until
 * killed (SIGTERM/SIGKILL from the parent). */
struct server_arg {
    const char *addr;
    const uint8_t *key;
    size_t keylen;
};

static void server_main(void *p) {
    struct server_arg *a = p;
    mp_mgr_server *s = NULL;
    mp_status st = mp_mgr_serve(a->addr, a->key, a->keylen, &s);
    if (st != MP_OK) {
        fprintf(stderr, "[server child] mp_mgr_serve(%s): %s: %s\n", a->addr, mp_status_str(st), mp_last_error());
        _exit(10);
    }
    for (;;)
        pause();
}

/* Waits until the server child accepts connections at `addr` (unix path or
 * abstract), with `key`; CHECKs it within T_MS. */
static void wait_server(const char *addr, const uint8_t *key, size_t keylen) {
    double deadline = now_ms() + T_MS;
    for (;;) {
        mp_mgr *m = NULL;
        mp_status st = mp_mgr_connect(addr, key, keylen, 1000, &m);
        if (st == MP_OK) {
            mp_buf r = {0};
            static const uint8_t empty_args[] = {0x80};
            st = mp_mgr_call(m, "manager", "", "ping", empty_args, 1, &r);
            mp_buf_free(&r);
            mp_mgr_close(m);
            CHECK_OK(st);
            return;
        }
        CHECK(now_ms() < deadline);
        sleep_ms(20);
    }
}

static void stop_child(pid_t pid) {
    kill(pid, SIGKILL);
    CHECK(wait_child(pid, T_MS) == -1000 - SIGKILL);
}

/* ------------------------------------------------------------------ */
/* The objects of sections 1 and 2: one of each kind                    */
/* ------------------------------------------------------------------ */

struct objs {
    const char *name;
    mpq *q;
    mp_shm *shm;
    mp_array *arr, *val;
    const char *val_name; /* values and arrays share the mpipc.a. prefix */
    mp_slist *sl;
    mp_lock *lock, *rlock;
    const char *rlock_name; /* locks and rlocks share the mpipc.lock. prefix */
    mp_sem *sem;
    mp_event *ev;
    mp_cond *cond;
    mp_barrier *bar;
};

/* The initial items of the ShareableList: ["abc", 7, h'78797a']. */
static const uint8_t SL_ITEMS[] = {0x83, 0x63, 'a', 'b', 'c', 0x07, 0x43, 'x', 'y', 'z'};

static void open_all(struct objs *o, const char *tag) {
    char t[64];
    o->name = qname(tag);
    snprintf(t, sizeof t, "%s-v", tag);
    o->val_name = qname(t);
    snprintf(t, sizeof t, "%s-r", tag);
    o->rlock_name = qname(t);
    mpq_options qo = {.capacity_bytes = 4096};
    CHECK_OK(mpq_open(o->name, &qo, &o->q));
    CHECK_OK(mpq_put(o->q, (const uint8_t *)"hello", 5));
    CHECK_OK(mp_shm_open(o->name, 4096, 0, &o->shm));
    memcpy(mp_shm_ptr(o->shm), "block data", 11);
    CHECK_OK(mp_array_open(o->name, 'q', 4, 0, &o->arr));
    CHECK_OK(mp_array_set_i64(o->arr, 2, 42));
    CHECK_OK(mp_value_open(o->val_name, 'd', 0, &o->val));
    CHECK_OK(mp_value_set_f64(o->val, 2.5));
    CHECK_OK(mp_slist_open(o->name, SL_ITEMS, sizeof SL_ITEMS, 0, &o->sl));
    CHECK_OK(mp_lock_open(o->name, 0, &o->lock));
    CHECK_OK(mp_lock_open(o->rlock_name, MP_LOCK_RECURSIVE, &o->rlock));
    CHECK_OK(mp_sem_open(o->name, 3, 0, &o->sem));
    CHECK_OK(mp_event_open(o->name, 0, &o->ev));
    CHECK_OK(mp_cond_open(o->name, 0, &o->cond));
    CHECK_OK(mp_barrier_open(o->name, 2, 0, &o->bar));
}

/* Each object's segment file, with what it is. */
struct seg {
    const char *what, *path;
};

static int segs_of(const struct objs *o, struct seg out[12]) {
    int n = 0;
    out[n++] = (struct seg){"queue", seg_path("mpipc.q.", o->name)};
    out[n++] = (struct seg){"shm", seg_path("mpipc.shm.", o->name)};
    out[n++] = (struct seg){"array", seg_path("mpipc.a.", o->name)};
    out[n++] = (struct seg){"value", seg_path("mpipc.a.", o->val_name)};
    out[n++] = (struct seg){"slist", seg_path("mpipc.sl.", o->name)};
    out[n++] = (struct seg){"lock", seg_path("mpipc.lock.", o->name)};
    out[n++] = (struct seg){"rlock", seg_path("mpipc.lock.", o->rlock_name)};
    out[n++] = (struct seg){"sem", seg_path("mpipc.sem.", o->name)};
    out[n++] = (struct seg){"event", seg_path("mpipc.ev.", o->name)};
    out[n++] = (struct seg){"cond", seg_path("mpipc.cond.", o->name)};
    out[n++] = (struct seg){"barrier", seg_path("mpipc.bar.", o->name)};
    return n;
}

/* The owner's view after the other user's attempts: same contents, and
 * every object still works. */
static void check_all_intact(struct objs *o) {
    mp_buf m = {0};
    CHECK_OK(mpq_get_timeout(o->q, &m, 0));
    CHECK(m.len == 5 && memcmp(m.ptr, "hello", 5) == 0);
    mp_buf_free(&m);
    CHECK_ST(mpq_get_timeout(o->q, &m, 0), MP_E_EMPTY);
    CHECK_OK(mpq_put(o->q, (const uint8_t *)"again", 5));
    CHECK_OK(mpq_get_timeout(o->q, &m, 0));
    mp_buf_free(&m);
    CHECK(memcmp(mp_shm_ptr(o->shm), "block data", 11) == 0);
    int64_t i = 0;
    CHECK_OK(mp_array_get_i64(o->arr, 2, &i));
    CHECK(i == 42);
    double d = 0;
    CHECK_OK(mp_value_get_f64(o->val, &d));
    CHECK(d == 2.5);
    mp_buf b = {0};
    CHECK_OK(mp_slist_get(o->sl, 0, &b));
    CHECK(b.len == 4 && memcmp(b.ptr, "\x63" "abc", 4) == 0);
    mp_buf_free(&b);
    CHECK_OK(mp_lock_acquire(o->lock, 0));
    CHECK_OK(mp_lock_release(o->lock));
    CHECK_OK(mp_lock_acquire(o->rlock, 0));
    CHECK_OK(mp_lock_acquire(o->rlock, 0));
    CHECK_OK(mp_lock_release(o->rlock));
    CHECK_OK(mp_lock_release(o->rlock));
    uint32_t sv = 99;
    CHECK_OK(mp_sem_value(o->sem, &sv));
    CHECK(sv == 3);
    bool set = true;
    CHECK_OK(mp_event_is_set(o->ev, &set));
    CHECK(!set);
    CHECK_OK(mp_lock_acquire(o->lock, 0));
    CHECK_ST(mp_cond_wait(o->cond, o->lock, 10), MP_E_TIMEOUT);
    CHECK_OK(mp_lock_release(o->lock));
    uint32_t parties = 0, waiting = 9;
    CHECK_OK(mp_barrier_parties(o->bar, &parties));
    CHECK_OK(mp_barrier_n_waiting(o->bar, &waiting));
    CHECK(parties == 2 && waiting == 0);
}

static void close_all(struct objs *o, int unlink_too) {
    mpq_close(o->q);
    mp_shm_close(o->shm);
    mp_array_close(o->arr);
    mp_array_close(o->val);
    mp_slist_close(o->sl);
    mp_lock_close(o->lock);
    mp_lock_close(o->rlock);
    mp_sem_close(o->sem);
    mp_event_close(o->ev);
    mp_cond_close(o->cond);
    mp_barrier_close(o->bar);
    if (unlink_too) {
        CHECK_OK(mpq_unlink(o->name));
        CHECK_OK(mp_shm_unlink(o->name));
        CHECK_OK(mp_array_unlink(o->name));
        CHECK_OK(mp_array_unlink(o->val_name));
        CHECK_OK(mp_slist_unlink(o->name));
        CHECK_OK(mp_lock_unlink(o->name));
        CHECK_OK(mp_lock_unlink(o->rlock_name));
        CHECK_OK(mp_sem_unlink(o->name));
        CHECK_OK(mp_event_unlink(o->name));
        CHECK_OK(mp_cond_unlink(o->name));
        CHECK_OK(mp_barrier_unlink(o->name));
    }
}

/* ------------------------------------------------------------------ */
/* 1 and 2: modes, and another user                                     */
/* ------------------------------------------------------------------ */

struct intruder_arg {
    const struct objs *o;
    const char *sock_path;    /* the keyless listener's socket file */
    const char *mgr_addr;     /* unix:/path of the manager (no key) */
    const char *abstract;     /* unix:@name of a keyed listener */
    const char *open_abstract; /* unix:@name of a keyless listener */
    const char *shared_abstract; /* the same, bound with MP_LISTENER_ALLOW_OTHER_USERS */
};

/* In the child, as nobody: every attempt must fail with the given status
 * (exit code = the attempt's number, so a failure names it). */
static void intruder_main(void *p) {
    const struct intruder_arg *a = p;
    const struct objs *o = a->o;
    CHILD_REQUIRE(setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0, 2);
    CHILD_REQUIRE(geteuid() == NOBODY && getegid() == NOBODY, 3);
    /* The test's premise: the kernel refuses nobody the files. */
    CHILD_REQUIRE(open(seg_path("mpipc.q.", o->name), O_RDONLY) < 0 && errno == EACCES, 4);

    mpq *q = NULL;
    mpq_options qo = {0};
    CHILD_ST(mpq_open(o->name, &qo, &q), MP_E_PERM, 10);
    qo.flags = MPQ_ATTACH_ONLY;
    CHILD_ST(mpq_open(o->name, &qo, &q), MP_E_PERM, 11);
    mp_shm *shm = NULL;
    CHILD_ST(mp_shm_open(o->name, 4096, 0, &shm), MP_E_PERM, 12);
    CHILD_ST(mp_shm_open(o->name, 0, MP_OPEN_ATTACH_ONLY, &shm), MP_E_PERM, 13);
    mp_array *arr = NULL;
    CHILD_ST(mp_array_open(o->name, 'q', 4, 0, &arr), MP_E_PERM, 14);
    CHILD_ST(mp_array_open(o->name, 'q', 0, MP_OPEN_ATTACH_ONLY, &arr), MP_E_PERM, 15);
    CHILD_ST(mp_value_open(o->val_name, 'd', 0, &arr), MP_E_PERM, 16);
    mp_slist *sl = NULL;
    CHILD_ST(mp_slist_open(o->name, SL_ITEMS, sizeof SL_ITEMS, 0, &sl), MP_E_PERM, 17);
    CHILD_ST(mp_slist_open(o->name, NULL, 0, MP_OPEN_ATTACH_ONLY, &sl), MP_E_PERM, 18);
    mp_lock *l = NULL;
    CHILD_ST(mp_lock_open(o->name, 0, &l), MP_E_PERM, 19);
    CHILD_ST(mp_lock_open(o->rlock_name, MP_LOCK_RECURSIVE | MP_OPEN_ATTACH_ONLY, &l), MP_E_PERM, 20);
    mp_sem *s = NULL;
    CHILD_ST(mp_sem_open(o->name, 1, 0, &s), MP_E_PERM, 21);
    mp_event *e = NULL;
    CHILD_ST(mp_event_open(o->name, 0, &e), MP_E_PERM, 22);
    mp_cond *c = NULL;
    CHILD_ST(mp_cond_open(o->name, MP_OPEN_ATTACH_ONLY, &c), MP_E_PERM, 23);
    mp_barrier *b = NULL;
    CHILD_ST(mp_barrier_open(o->name, 2, 0, &b), MP_E_PERM, 24);

    /* Nor can nobody remove them (sticky /dev/shm). */
    CHILD_ST(mpq_unlink(o->name), MP_E_PERM, 30);
    CHILD_ST(mp_shm_unlink(o->name), MP_E_PERM, 31);
    CHILD_ST(mp_array_unlink(o->name), MP_E_PERM, 32);
    CHILD_ST(mp_array_unlink(o->val_name), MP_E_PERM, 33);
    CHILD_ST(mp_slist_unlink(o->name), MP_E_PERM, 34);
    CHILD_ST(mp_lock_unlink(o->name), MP_E_PERM, 35);
    CHILD_ST(mp_lock_unlink(o->rlock_name), MP_E_PERM, 36);
    CHILD_ST(mp_sem_unlink(o->name), MP_E_PERM, 37);
    CHILD_ST(mp_event_unlink(o->name), MP_E_PERM, 38);
    CHILD_ST(mp_cond_unlink(o->name), MP_E_PERM, 39);
    CHILD_ST(mp_barrier_unlink(o->name), MP_E_PERM, 40);

    /* The sockets. */
    char addr[160];
    snprintf(addr, sizeof addr, "unix:%s", a->sock_path);
    mp_pipe *pc = NULL;
    CHILD_ST(mp_pipe_connect(addr, NULL, 0, 2000, &pc), MP_E_PERM, 50);
    mp_mgr *m = NULL;
    CHILD_ST(mp_mgr_connect(a->mgr_addr, NULL, 0, 2000, &m), MP_E_PERM, 51);
    /* An abstract socket has no file mode: its authkey is what keeps
     * nobody out. */
    CHILD_ST(mp_pipe_connect(a->abstract, (const uint8_t *)"not the key", 11, 5000, &pc), MP_E_AUTH, 52);
    /* A keyless abstract listener checks the peer's uid (SO_PEERCRED):
     * the connect itself goes through, then the listener drops us. */
    CHILD_ST(mp_pipe_connect(a->open_abstract, NULL, 0, 5000, &pc), MP_OK, 53);
    mp_buf got = {0};
    CHILD_ST(mp_pipe_recv_timeout(pc, &got, 10000), MP_E_EOF, 54);
    mp_pipe_close(pc);
    /* ... unless it was bound to share with other users on purpose */
    CHILD_ST(mp_pipe_connect(a->shared_abstract, NULL, 0, 5000, &pc), MP_OK, 55);
    CHILD_ST(mp_pipe_recv_timeout(pc, &got, 10000), MP_OK, 56);
    CHILD_REQUIRE(got.len == 7 && memcmp(got.ptr, "welcome", 7) == 0, 57);
    mp_buf_free(&got);
    mp_pipe_close(pc);

    /* Name squatting: nobody creates a world-writable queue under a name
     * the owner will use. The owner's default (private) open must refuse
     * it rather than put its data where nobody can read it. */
    char squat[96];
    snprintf(squat, sizeof squat, "%s-squat", o->name);
    mpq_options so = {0};
    so.mode = 0666;
    CHILD_ST(mpq_open(squat, &so, &q), MP_OK, 60);
    CHILD_ST(mpq_put(q, (const uint8_t *)"bait", 4), MP_OK, 61);
    mpq_close(q);
    /* and a (private, 0600) lock of nobody's, for the owner's opt-in */
    snprintf(squat, sizeof squat, "%s-squatlock", o->name);
    CHILD_ST(mp_lock_open(squat, 0, &l), MP_OK, 62);
    mp_lock_close(l);
    _exit(0);
}

static void test_modes_and_other_user(void) {
    g_section = "1: modes";
    mode_t old = umask(0); /* the widest umask: the modes must not follow it */
    struct objs o;
    open_all(&o, "own");
    struct seg segs[12];
    int n = segs_of(&o, segs);
    for (int i = 0; i < n; i++) {
        int mode = file_mode(segs[i].path);
        if (mode != 0600)
            fprintf(stderr, "%s: %s has mode %o\n", segs[i].what, segs[i].path, mode);
        CHECK(mode == 0600);
    }
    /* A unix-socket listener (no key) and a manager server's socket. */
    const char *sock = tmp_path("listener.sock");
    char addr[160];
    snprintf(addr, sizeof addr, "unix:%s", sock);
    mp_listener *l = NULL;
    CHECK_OK(mp_listener_bind(addr, NULL, 0, &l));
    CHECK(file_mode(sock) == 0600);
    const char *mgr_sock = tmp_path("mgr.sock");
    char mgr_addr[160];
    snprintf(mgr_addr, sizeof mgr_addr, "unix:%s", mgr_sock);
    struct server_arg sa = {mgr_addr, NULL, 0};
    pid_t server = spawn(server_main, &sa);
    wait_server(mgr_addr, NULL, 0);
    CHECK(file_mode(mgr_sock) == 0600);
    umask(old);

    g_section = "2: another user";
    char abstract[96];
    snprintf(abstract, sizeof abstract, "unix:@csec-%ld-keyed", (long)getpid());
    mp_listener *keyed = NULL;
    CHECK_OK(mp_listener_bind(abstract, (const uint8_t *)"the key", 7, &keyed));
    char open_abstract[96];
    snprintf(open_abstract, sizeof open_abstract, "unix:@csec-%ld-open", (long)getpid());
    mp_listener *open_l = NULL;
    CHECK_OK(mp_listener_bind(open_abstract, NULL, 0, &open_l));
    char shared_abstract[96];
    snprintf(shared_abstract, sizeof shared_abstract, "unix:@csec-%ld-shared", (long)getpid());
    mp_listener *shared_l = NULL;
    CHECK_OK(mp_listener_bind_ex(shared_abstract, NULL, 0, MP_LISTENER_ALLOW_OTHER_USERS, &shared_l));
    /* Can a child become nobody here (root, with CAP_SETUID)? */
    int can_switch = 0;
    if (geteuid() == 0) {
        pid_t probe = fork_child();
        if (probe == 0)
            _exit(setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0 ? 0 : 1);
        can_switch = wait_child(probe, T_MS) == 0;
    }
    if (!can_switch) {
        printf("test_security: section 2 (another user) SKIPPED: cannot switch to uid %d here "
               "(needs root with CAP_SETUID)\n",
               NOBODY);
    } else {
        struct intruder_arg ia = {&o, sock, mgr_addr, abstract, open_abstract, shared_abstract};
        pid_t intruder = spawn(intruder_main, &ia);
        /* The intruder's wrong-key handshake, seen from the listener. */
        mp_pipe *ac = NULL;
        CHECK_ST(mp_listener_accept(keyed, T_MS, &ac), MP_E_AUTH);
        /* Its keyless connect to the abstract name: refused by uid. */
        CHECK_ST(mp_listener_accept(open_l, T_MS, &ac), MP_E_PERM);
        /* The listener that shares on purpose accepts it. */
        CHECK_OK(mp_listener_accept(shared_l, T_MS, &ac));
        CHECK_OK(mp_pipe_send(ac, (const uint8_t *)"welcome", 7));
        CHECK_CHILD(intruder, T_MS, 0);
        mp_pipe_close(ac);
        /* The squatted queue: refused by a private open (either flag),
         * usable by an owner who opts into sharing with a wider mode. */
        char squat[96];
        snprintf(squat, sizeof squat, "%s-squat", o.name);
        mpq *sq = NULL;
        mpq_options so = {0};
        CHECK_ST(mpq_open(squat, &so, &sq), MP_E_PERM);
        so.flags = MPQ_ATTACH_ONLY;
        CHECK_ST(mpq_open(squat, &so, &sq), MP_E_PERM);
        so.mode = 0666;
        CHECK_OK(mpq_open(squat, &so, &sq));
        mpq_close(sq);
        so.mode = 0;
        so.flags = MPQ_ATTACH_ONLY | MPQ_ANY_OWNER; /* the explicit opt-in */
        CHECK_OK(mpq_open(squat, &so, &sq));
        mp_buf bait = {0};
        CHECK_OK(mpq_get_timeout(sq, &bait, 0));
        CHECK(bait.len == 4 && memcmp(bait.ptr, "bait", 4) == 0);
        mp_buf_free(&bait);
        mpq_close(sq);
        CHECK_OK(mpq_unlink(squat));
        /* another kind: root inspecting nobody's private lock needs the flag */
        snprintf(squat, sizeof squat, "%s-squatlock", o.name);
        mp_lock *sl = NULL;
        CHECK_ST(mp_lock_open(squat, MP_OPEN_ATTACH_ONLY, &sl), MP_E_PERM);
        CHECK_OK(mp_lock_open(squat, MP_OPEN_ATTACH_ONLY | MP_OPEN_ANY_OWNER, &sl));
        mp_lock_close(sl);
        CHECK_OK(mp_lock_unlink(squat));
        /* Files unchanged: same mode, same owner. */
        for (int i = 0; i < n; i++) {
            struct stat st;
            CHECK(stat(segs[i].path, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == 0);
        }
    }
    check_all_intact(&o);
    /* The listener and the manager still serve their owner. */
    pid_t client = fork_child();
    if (client == 0) {
        mp_pipe *c = NULL;
        CHILD_ST(mp_pipe_connect(addr, NULL, 0, T_MS, &c), MP_OK, 2);
        CHILD_ST(mp_pipe_send(c, (const uint8_t *)"owner", 5), MP_OK, 3);
        mp_pipe_close(c);
        _exit(0);
    }
    mp_pipe *acc = NULL;
    CHECK_OK(mp_listener_accept(l, T_MS, &acc));
    mp_buf m = {0};
    CHECK_OK(mp_pipe_recv_timeout(acc, &m, T_MS));
    CHECK(m.len == 5 && memcmp(m.ptr, "owner", 5) == 0);
    mp_buf_free(&m);
    mp_pipe_close(acc);
    CHECK_CHILD(client, T_MS, 0);
    wait_server(mgr_addr, NULL, 0);

    mp_listener_close(keyed);
    mp_listener_close(open_l);
    mp_listener_close(shared_l);
    mp_listener_close(l);
    CHECK(file_mode(sock) == -1); /* removed by its listener */
    stop_child(server);
    close_all(&o, 1);
    for (int i = 0; i < n; i++)
        CHECK(file_mode(segs[i].path) == -1);
}

/* ------------------------------------------------------------------ */
/* 3: TCP and authkeys                                                  */
/* ------------------------------------------------------------------ */

/* A client in a child: connect to `addr` with `key`, expecting `want`. */
struct client_arg {
    const char *addr;
    const uint8_t *key;
    size_t keylen;
    mp_status want;
};

static void client_main(void *p) {
    const struct client_arg *a = p;
    mp_pipe *c = NULL;
    CHILD_ST(mp_pipe_connect(a->addr, a->key, a->keylen, T_MS, &c), a->want, 2);
    if (a->want == MP_OK) {
        CHILD_ST(mp_pipe_send(c, (const uint8_t *)"in", 2), MP_OK, 3);
        mp_pipe_close(c);
    }
    _exit(0);
}

/* A keyless client of a keyed listener: what it receives first is the
 * challenge, then the verdict; it never gets a word of data. */
static void keyless_client_main(void *p) {
    const char *addr = p;
    mp_pipe *c = NULL;
    CHILD_ST(mp_pipe_connect(addr, NULL, 0, T_MS, &c), MP_OK, 2);
    mp_buf m = {0};
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 3);
    CHILD_REQUIRE(m.len > 11 && memcmp(m.ptr, "#CHALLENGE#", 11) == 0, 4);
    mp_buf_free(&m);
    CHILD_ST(mp_pipe_send(c, (const uint8_t *)"let me in please", 16), MP_OK, 5);
    CHILD_ST(mp_pipe_recv_timeout(c, &m, T_MS), MP_OK, 6);
    CHILD_REQUIRE(m.len == 9 && memcmp(m.ptr, "#FAILURE#", 9) == 0, 7);
    mp_buf_free(&m);
    mp_pipe_close(c);
    _exit(0);
}

static void test_tcp_and_keys(void) {
    g_section = "3: TCP without a key";
    mp_listener *l = NULL;
    CHECK_ST(mp_listener_bind("tcp:127.0.0.1:0", NULL, 0, &l), MP_E_INVAL);
    CHECK(strstr(mp_last_error(), "authkey") != NULL);
    CHECK_ST(mp_listener_bind("tcp:127.0.0.1:0", (const uint8_t *)"", 0, &l), MP_E_INVAL);
    CHECK_ST(mp_listener_bind_ex("tcp:127.0.0.1:0", NULL, 0, 0, &l), MP_E_INVAL);
    CHECK_OK(mp_listener_bind_ex("tcp:127.0.0.1:0", NULL, 0, MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY, &l));
    mp_listener_close(l);
    mp_pipe *c = NULL;
    CHECK_ST(mp_pipe_connect("tcp:127.0.0.1:9", NULL, 0, 1000, &c), MP_E_INVAL);
    mp_mgr *m = NULL;
    CHECK_ST(mp_mgr_connect("tcp:127.0.0.1:9", NULL, 0, 1000, &m), MP_E_INVAL);
    /* mp_mgr_serve on TCP without a key, in a child (a success would start
     * threads in this process, which forks). */
    pid_t pid = fork_child();
    if (pid == 0) {
        mp_mgr_server *s = NULL;
        CHILD_ST(mp_mgr_serve("tcp:127.0.0.1:0", NULL, 0, &s), MP_E_INVAL, 2);
        CHILD_REQUIRE(strstr(mp_last_error(), "authkey") != NULL, 3);
        _exit(0);
    }
    CHECK_CHILD(pid, T_MS, 0);

    g_section = "3: wrong and missing keys";
    static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
    CHECK_OK(mp_listener_bind("tcp:127.0.0.1:0", key, sizeof key, &l));
    char addr[128];
    addr_of_listener(l, addr, sizeof addr);
    /* Keyless TCP client: refused before connecting. */
    CHECK_ST(mp_pipe_connect(addr, NULL, 0, 1000, &c), MP_E_INVAL);
    /* The right key, then a key differing in one byte at each position. */
    struct client_arg ca = {addr, key, sizeof key, MP_OK};
    pid = spawn(client_main, &ca);
    mp_pipe *acc = NULL;
    CHECK_OK(mp_listener_accept(l, T_MS, &acc));
    mp_buf msg = {0};
    CHECK_OK(mp_pipe_recv_timeout(acc, &msg, T_MS));
    CHECK(msg.len == 2);
    mp_buf_free(&msg);
    mp_pipe_close(acc);
    CHECK_CHILD(pid, T_MS, 0);
    for (size_t i = 0; i < sizeof key; i++) {
        static uint8_t wrong[32];
        memcpy(wrong, key, sizeof key);
        wrong[i] ^= (uint8_t)(1u << (i % 8));
        struct client_arg wa = {addr, wrong, sizeof wrong, MP_E_AUTH};
        pid = spawn(client_main, &wa);
        CHECK_ST(mp_listener_accept(l, T_MS, &acc), MP_E_AUTH);
        CHECK_CHILD(pid, T_MS, 0);
    }
    /* A shorter and a longer key. */
    struct client_arg sa = {addr, key, sizeof key - 1, MP_E_AUTH};
    pid = spawn(client_main, &sa);
    CHECK_ST(mp_listener_accept(l, T_MS, &acc), MP_E_AUTH);
    CHECK_CHILD(pid, T_MS, 0);
    mp_listener_close(l);

    /* A keyless client of a keyed unix listener. */
    const char *sock = tmp_path("keyed.sock");
    char uaddr[160];
    snprintf(uaddr, sizeof uaddr, "unix:%s", sock);
    CHECK_OK(mp_listener_bind(uaddr, key, sizeof key, &l));
    pid = spawn(keyless_client_main, uaddr);
    CHECK_ST(mp_listener_accept(l, T_MS, &acc), MP_E_AUTH);
    CHECK_CHILD(pid, T_MS, 0);
    mp_listener_close(l);

    /* A keyed manager: keyless client -> MP_E_AUTH at its first call;
     * wrong key -> MP_E_AUTH at connect; the right key works. */
    const char *msock = tmp_path("keyed-mgr.sock");
    char maddr[160];
    snprintf(maddr, sizeof maddr, "unix:%s", msock);
    struct server_arg sv = {maddr, key, sizeof key};
    pid_t server = spawn(server_main, &sv);
    wait_server(maddr, key, sizeof key);
    CHECK_OK(mp_mgr_connect(maddr, NULL, 0, T_MS, &m));
    mp_buf r = {0};
    static const uint8_t empty_args[] = {0x80};
    CHECK_ST(mp_mgr_call(m, "manager", "", "ping", empty_args, 1, &r), MP_E_AUTH);
    mp_mgr_close(m);
    CHECK_ST(mp_mgr_connect(maddr, key, sizeof key - 1, T_MS, &m), MP_E_AUTH);
    stop_child(server);
}

/* ------------------------------------------------------------------ */
/* 4: frames limited before allocation                                  */
/* ------------------------------------------------------------------ */

/* A pipe end over a socketpair whose other end (`*raw`) this test writes
 * raw bytes to. */
static mp_pipe *raw_pair(int *raw) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    mp_pipe *p = NULL;
    CHECK_OK(mp_pipe_from_fd(sv[0], &p));
    *raw = sv[1];
    return p;
}

/* A peer (a forked child) that writes `n` bytes to `fd` and exits. */
static void peer_writes(int fd, const void *bytes, size_t n) {
    pid_t pid = fork_child();
    if (pid == 0) {
        write_all(fd, bytes, n);
        _exit(0);
    }
    CHECK_CHILD(pid, T_MS, 0);
}

/* A fake manager in a child: accepts one connection at `path`, reads one
 * request frame, answers with a header announcing 2^63 bytes and a few of
 * them, then waits for the client to hang up. */
static void fake_manager_main(void *p) {
    const char *path = p;
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    CHILD_REQUIRE(ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(ls, 1) == 0, 2);
    int c = accept(ls, NULL, NULL);
    CHILD_REQUIRE(c >= 0, 3);
    uint8_t h[4], body[256];
    CHILD_REQUIRE(read(c, h, 4) == 4, 4);
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    CHILD_REQUIRE(n <= sizeof body && read(c, body, n) == (ssize_t)n, 5);
    uint8_t reply[12 + 16];
    long_header(reply, 1ull << 63);
    memset(reply + 12, 0x80, 16);
    write_all(c, reply, sizeof reply);
    char x;
    while (read(c, &x, 1) > 0) {
    }
    _exit(0);
}

/* A peer sends frame header `hdr` (`n` bytes) on a fresh pair (with
 * max_frame `max_frame`, 0 = the default): the receive must say `want`. */
static void header_refused(const uint8_t *hdr, size_t n, uint64_t max_frame, mp_status want) {
    int raw;
    mp_pipe *p = raw_pair(&raw);
    if (max_frame != 0)
        CHECK_OK(mp_pipe_set_max_frame(p, max_frame));
    peer_writes(raw, hdr, n);
    mp_buf m = {0};
    CHECK_ST(mp_pipe_recv_timeout(p, &m, T_MS), want);
    mp_pipe_close(p);
    close(raw);
}

static void test_frames(void) {
    g_section = "4: frames announcing huge lengths";
    long hwm0 = proc_kb(0, "VmHWM");
    int raw;
    uint8_t h[12];
    mp_buf m = {0};

    mp_pipe *p = raw_pair(&raw);
    long_header(h, 1ull << 63);
    peer_writes(raw, h, 12);
    CHECK_ST(mp_pipe_recv_timeout(p, &m, T_MS), MP_E_TOOBIG);
    CHECK_ST(mp_pipe_recv_timeout(p, &m, 0), MP_E_TOOBIG); /* broken for good */
    mp_pipe_close(p);
    close(raw);

    p = raw_pair(&raw);
    long_header(h, 1ull << 32);
    peer_writes(raw, h, 12);
    CHECK_ST(mp_pipe_recv_timeout(p, &m, T_MS), MP_E_TOOBIG);
    uint8_t buf[64];
    size_t got = 0;
    CHECK_ST(mp_pipe_recv_into(p, buf, sizeof buf, &got, 0), MP_E_TOOBIG);
    mp_pipe_close(p);
    close(raw);

    static const uint8_t short_max[4] = {0x7f, 0xff, 0xff, 0xff};
    header_refused(short_max, 4, 0, MP_E_TOOBIG);
    static const uint8_t minus2[4] = {0xff, 0xff, 0xff, 0xfe};
    header_refused(minus2, 4, 0, MP_E_CORRUPT);
    /* No limit at all: the allocation itself is refused, not attempted. */
    long_header(h, 1ull << 63);
    header_refused(h, 12, UINT64_MAX, MP_E_TOOBIG);

    /* 512 MiB announced (under the 1 GiB default), 16 bytes sent, EOF:
     * the receiver reserves but does not touch the memory. */
    p = raw_pair(&raw);
    uint8_t h4[4 + 16] = {0x20, 0x00, 0x00, 0x00};
    peer_writes(raw, h4, sizeof h4);
    close(raw);
    CHECK_ST(mp_pipe_recv_timeout(p, &m, T_MS), MP_E_EOF);
    CHECK(strstr(mp_last_error(), "middle") != NULL);
    mp_pipe_close(p);

    long hwm1 = proc_kb(0, "VmHWM");
    printf("test_security: VmHWM %ld kB before the huge frames, %ld kB after\n", hwm0, hwm1);
    CHECK(hwm1 - hwm0 < 16 * 1024);

    g_section = "4: manager request frames";
    const char *msock = tmp_path("frames-mgr.sock");
    char maddr[160];
    snprintf(maddr, sizeof maddr, "unix:%s", msock);
    struct server_arg sv = {maddr, NULL, 0};
    pid_t server = spawn(server_main, &sv);
    wait_server(maddr, NULL, 0);
    long shwm0 = proc_kb(server, "VmHWM");
    static const uint64_t lens[] = {1ull << 63, 65ull << 20, 1ull << 32};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int fd = raw_connect(msock);
        long_header(h, lens[i]);
        write_all(fd, h, 12);
        uint8_t rh[4];
        CHECK(read_exact(fd, rh, 4) == 1);
        uint32_t n = (uint32_t)rh[0] << 24 | (uint32_t)rh[1] << 16 | (uint32_t)rh[2] << 8 | rh[3];
        CHECK(n >= 3 && n < 4096);
        uint8_t reply[4096];
        CHECK(read_exact(fd, reply, n) == 1);
        /* [0, MP_E_TOOBIG (-7, CBOR 0x26), message] */
        CHECK(reply[0] == 0x83 && reply[1] == 0x00 && reply[2] == 0x26);
        char x;
        CHECK(read_timeout(fd, &x, 1, T_MS) == 0); /* then that connection closes */
        close(fd);
    }
    wait_server(maddr, NULL, 0); /* everyone else is still served */
    long shwm1 = proc_kb(server, "VmHWM");
    printf("test_security: manager server VmHWM %ld kB before the huge requests, %ld kB after\n", shwm0, shwm1);
    CHECK(shwm1 - shwm0 < 16 * 1024);
    stop_child(server);

    g_section = "4: manager reply frames";
    const char *fsock = tmp_path("fake-mgr.sock");
    char faddr[160];
    snprintf(faddr, sizeof faddr, "unix:%s", fsock);
    pid_t fake = spawn(fake_manager_main, (void *)fsock);
    mp_mgr *mc = NULL;
    double deadline = now_ms() + T_MS;
    while (mp_mgr_connect(faddr, NULL, 0, 1000, &mc) != MP_OK) {
        CHECK(now_ms() < deadline);
        sleep_ms(10);
    }
    long chwm0 = proc_kb(0, "VmHWM");
    mp_buf r = {0};
    static const uint8_t empty_args[] = {0x80};
    CHECK_ST(mp_mgr_call(mc, "manager", "", "ping", empty_args, 1, &r), MP_E_TOOBIG);
    mp_mgr_close(mc);
    CHECK(proc_kb(0, "VmHWM") - chwm0 < 16 * 1024);
    CHECK_CHILD(fake, T_MS, 0);
}

/* ------------------------------------------------------------------ */
/* 5: lengths read out of shared memory                                 */
/* ------------------------------------------------------------------ */

/* In a child: attach to the queue `name` and get: want `want`. */
static void child_get_main(void *p) {
    const char *name = p;
    mpq *q = NULL;
    mpq_options o = {.flags = MPQ_ATTACH_ONLY};
    CHILD_ST(mpq_open(name, &o, &q), MP_OK, 2);
    mp_buf m = {0};
    CHILD_ST(mpq_get_timeout(q, &m, 0), MP_E_CORRUPT, 3);
    uint8_t small[16];
    size_t n = 0;
    CHILD_ST(mpq_get_into(q, small, sizeof small, &n, 0), MP_E_CORRUPT, 4);
    mpq_close(q);
    _exit(0);
}

static void test_shm_lengths(void) {
    g_section = "5: queue record lengths";
    long hwm0 = proc_kb(0, "VmHWM");
    const char *qn = qname("corrupt-q");
    const char *qp = seg_path("mpipc.q.", qn);
    mpq *q = NULL;
    mpq_options qo = {.capacity_bytes = 4096};
    CHECK_OK(mpq_open(qn, &qo, &q));
    CHECK_OK(mpq_put(q, (const uint8_t *)"first", 5));
    CHECK_OK(mpq_put(q, (const uint8_t *)"second", 6));
    const off_t ring = 2496; /* data_offset, queue layout version 2 */
    CHECK(pread_u64(qp, ring) == 5); /* the first record's length word */
    uint64_t max_message = pread_u64(qp, 48);
    CHECK(max_message == 4096 - 8);
    const uint64_t bad_lens[] = {1ull << 63, UINT64_MAX, max_message + 1, 1000 /* > bytes queued */};
    mp_buf m = {0};
    for (size_t i = 0; i < sizeof bad_lens / sizeof bad_lens[0]; i++) {
        pwrite_u64(qp, ring, bad_lens[i]);
        CHECK_ST(mpq_get_timeout(q, &m, 0), MP_E_CORRUPT);
        CHECK(strstr(mp_last_error(), "impossible") != NULL);
        pid_t pid = spawn(child_get_main, (void *)qn);
        CHECK_CHILD(pid, T_MS, 0);
    }
    pwrite_u64(qp, ring, 5); /* restored: nothing was consumed */
    size_t qs = 0;
    CHECK_OK(mpq_qsize(q, &qs));
    CHECK(qs == 2);
    CHECK_OK(mpq_get_timeout(q, &m, 0));
    CHECK(m.len == 5 && memcmp(m.ptr, "first", 5) == 0);
    mp_buf_free(&m);

    g_section = "5: queue state";
    /* The live state slot: current (u32 at 128) picks slot 0 (136) or 1
     * (192); tail is its second u64. */
    uint32_t cur = 0;
    {
        int fd = open(qp, O_RDONLY);
        CHECK(fd >= 0 && pread(fd, &cur, 4, 128) == 4);
        close(fd);
    }
    off_t tail_off = (cur & 1) ? 192 + 8 : 136 + 8;
    uint64_t tail = pread_u64(qp, tail_off);
    pwrite_u64(qp, tail_off, 1ull << 62);
    CHECK_ST(mpq_put(q, (const uint8_t *)"x", 1), MP_E_CORRUPT);
    CHECK_ST(mpq_get_timeout(q, &m, 0), MP_E_CORRUPT);
    pwrite_u64(qp, tail_off, tail);
    CHECK_OK(mpq_get_timeout(q, &m, 0));
    CHECK(m.len == 6 && memcmp(m.ptr, "second", 6) == 0);
    mp_buf_free(&m);
    mpq_close(q);

    g_section = "5: queue geometry";
    /* Validated at attach, then kept in process memory. */
    mpq_options ao = {.flags = MPQ_ATTACH_ONLY};
    pwrite_u64(qp, 48, UINT64_MAX); /* max_message: record_size() would wrap */
    CHECK_ST(mpq_open(qn, &ao, &q), MP_E_CORRUPT);
    pwrite_u64(qp, 48, UINT64_MAX - 7);
    CHECK_ST(mpq_open(qn, &ao, &q), MP_E_CORRUPT);
    pwrite_u64(qp, 48, 4096);
    CHECK_ST(mpq_open(qn, &ao, &q), MP_E_CORRUPT);
    pwrite_u64(qp, 48, max_message);
    pwrite_u64(qp, 40, 1ull << 62); /* capacity */
    CHECK_ST(mpq_open(qn, &ao, &q), MP_E_CORRUPT);
    pwrite_u64(qp, 40, 4096);
    pwrite_u64(qp, 56, 64); /* data_offset */
    CHECK_ST(mpq_open(qn, &ao, &q), MP_E_CORRUPT);
    pwrite_u64(qp, 56, 2496);
    CHECK_OK(mpq_open(qn, &ao, &q));
    CHECK_OK(mpq_put(q, (const uint8_t *)"ok", 2));
    CHECK_OK(mpq_get_timeout(q, &m, 0));
    mp_buf_free(&m);
    mpq_close(q);

    g_section = "5: ShareableList";
    const char *sn = qname("corrupt-sl");
    const char *sp = seg_path("mpipc.sl.", sn);
    mp_slist *sl = NULL;
    CHECK_OK(mp_slist_open(sn, SL_ITEMS, sizeof SL_ITEMS, 0, &sl));
    /* Entries at 128, 16 bytes each: offset u64, capacity u32, len u32. */
    const off_t e0_len = 128 + 12, e1_off = 128 + 16;
    pwrite_u32(sp, e0_len, 0xffffffffu);
    mp_buf b = {0};
    CHECK_ST(mp_slist_get(sl, 0, &b), MP_E_CORRUPT);
    CHECK_OK(mp_slist_get(sl, 1, &b)); /* the other items are unharmed */
    CHECK(b.len == 1 && b.ptr[0] == 0x07);
    mp_buf_free(&b);
    pwrite_u32(sp, e0_len, 17); /* one more than the slot's 16 (capacity 8, plus 8 for the CBOR head) */
    CHECK_ST(mp_slist_get(sl, 0, &b), MP_E_CORRUPT);
    pwrite_u32(sp, e0_len, 4);
    CHECK_OK(mp_slist_get(sl, 0, &b));
    CHECK(b.len == 4 && memcmp(b.ptr, "\x63" "abc", 4) == 0);
    mp_buf_free(&b);
    mp_slist *sl2 = NULL;
    uint64_t e1 = pread_u64(sp, e1_off);
    pwrite_u64(sp, e1_off, 1ull << 60);
    CHECK_ST(mp_slist_open(sn, NULL, 0, 0, &sl2), MP_E_CORRUPT);
    pwrite_u64(sp, e1_off, e1);
    uint64_t count = pread_u64(sp, 112), data_len = pread_u64(sp, 120);
    CHECK(count == 3);
    pwrite_u64(sp, 112, 1ull << 40);
    CHECK_ST(mp_slist_open(sn, NULL, 0, 0, &sl2), MP_E_CORRUPT);
    pwrite_u64(sp, 112, 4); /* one entry more than the file holds data for */
    CHECK_ST(mp_slist_open(sn, NULL, 0, 0, &sl2), MP_E_CORRUPT);
    pwrite_u64(sp, 112, count);
    pwrite_u64(sp, 120, 1ull << 62);
    CHECK_ST(mp_slist_open(sn, NULL, 0, 0, &sl2), MP_E_CORRUPT);
    pwrite_u64(sp, 120, data_len);
    CHECK_OK(mp_slist_open(sn, NULL, 0, 0, &sl2));
    size_t len = 0;
    CHECK_OK(mp_slist_len(sl2, &len));
    CHECK(len == 3);
    mp_slist_close(sl2);
    mp_slist_close(sl);
    CHECK_OK(mp_slist_unlink(sn));

    g_section = "5: array and block";
    const char *an = qname("corrupt-a");
    const char *ap = seg_path("mpipc.a.", an);
    mp_array *a = NULL, *a2 = NULL;
    CHECK_OK(mp_array_open(an, 'q', 4, 0, &a));
    CHECK_OK(mp_array_set_i64(a, 3, 77));
    CHECK(pread_u64(ap, 128) == 4);
    pwrite_u64(ap, 128, 1ull << 62);
    CHECK_ST(mp_array_open(an, 'q', 0, 0, &a2), MP_E_CORRUPT);
    pwrite_u64(ap, 128, 5000); /* more elements than the file holds */
    CHECK_ST(mp_array_open(an, 'q', 0, 0, &a2), MP_E_CORRUPT);
    pwrite_u64(ap, 128, 4);
    pwrite_u32(ap, 140, 1); /* itemsize of a 'q' */
    CHECK_ST(mp_array_open(an, 'q', 0, 0, &a2), MP_E_CORRUPT);
    pwrite_u32(ap, 140, 8);
    CHECK_OK(mp_array_open(an, 'q', 0, 0, &a2));
    int64_t v = 0;
    CHECK_OK(mp_array_get_i64(a2, 3, &v));
    CHECK(v == 77 && mp_array_len(a2) == 4);
    CHECK_ST(mp_array_get_i64(a2, 4, &v), MP_E_INDEX);
    mp_array_close(a2);
    mp_array_close(a);
    CHECK_OK(mp_array_unlink(an));

    const char *bn = qname("corrupt-shm");
    const char *bp = seg_path("mpipc.shm.", bn);
    mp_shm *s = NULL, *s2 = NULL;
    CHECK_OK(mp_shm_open(bn, 100, 0, &s));
    CHECK(pread_u64(bp, 64) == 100);
    pwrite_u64(bp, 64, 1ull << 40);
    CHECK_ST(mp_shm_open(bn, 0, 0, &s2), MP_E_CORRUPT);
    pwrite_u64(bp, 64, 100);

    g_section = "5: the common header";
    uint64_t total = pread_u64(bp, 16);
    pwrite_u64(bp, 16, total + 4096);
    CHECK_ST(mp_shm_open(bn, 0, 0, &s2), MP_E_CORRUPT);
    pwrite_u64(bp, 16, total);
    uint32_t kind = 0;
    {
        int fd = open(bp, O_RDONLY);
        CHECK(fd >= 0 && pread(fd, &kind, 4, 12) == 4);
        close(fd);
    }
    CHECK(kind == 2);
    pwrite_u32(bp, 12, 1); /* says "queue" */
    CHECK_ST(mp_shm_open(bn, 0, 0, &s2), MP_E_TYPE);
    pwrite_u32(bp, 12, 2);
    CHECK_OK(mp_shm_open(bn, 0, 0, &s2));
    CHECK(mp_shm_size(s2) == 100);
    mp_shm_close(s2);
    mp_shm_close(s);
    /* A truncated file of each kind. */
    CHECK(truncate(bp, 16) == 0);
    CHECK_ST(mp_shm_open(bn, 0, 0, &s2), MP_E_CORRUPT);
    CHECK(truncate(bp, 0) == 0);
    CHECK_ST(mp_shm_open(bn, 0, 0, &s2), MP_E_CORRUPT);
    CHECK_OK(mp_shm_unlink(bn));
    CHECK(truncate(qp, 100) == 0);
    CHECK_ST(mpq_open(qn, &ao, &q), MP_E_CORRUPT);
    CHECK_OK(mpq_unlink(qn));

    long hwm1 = proc_kb(0, "VmHWM");
    printf("test_security: VmHWM %ld kB before the corrupt segments, %ld kB after\n", hwm0, hwm1);
    CHECK(hwm1 - hwm0 < 16 * 1024);
}

/* ------------------------------------------------------------------ */
/* 6: names                                                             */
/* ------------------------------------------------------------------ */

static int count_dir(const char *path) {
    DIR *d = opendir(path);
    CHECK(d != NULL);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void test_names(void) {
    g_section = "6: names";
    char long201[202], long200[201];
    memset(long201, 'n', 201);
    long201[201] = '\0';
    memset(long200, 'n', 200);
    long200[200] = '\0';
    const char *bad[] = {"",         "/",      ".",         "..",     "../x",  "a/b",
                         "/a/b",     "//x",    ".hidden",   "a b",    "x\n",   "\xff\xfe",
                         "../../tmp/csec-escape", "..\\x", "*", long201};
    size_t nbad = sizeof bad / sizeof bad[0];
    int shm0 = count_dir("/dev/shm"), dev0 = count_dir("/dev"), tmp0 = count_dir("/tmp"), cwd0 = count_dir(".");

    for (size_t i = 0; i < nbad; i++) {
        const char *n = bad[i];
        mpq *q = NULL;
        mpq_options qo = {0};
        CHECK_ST(mpq_open(n, &qo, &q), MP_E_INVAL);
        CHECK(q == NULL);
        mp_shm *s = NULL;
        CHECK_ST(mp_shm_open(n, 64, 0, &s), MP_E_INVAL);
        mp_array *a = NULL;
        CHECK_ST(mp_array_open(n, 'q', 4, 0, &a), MP_E_INVAL);
        CHECK_ST(mp_value_open(n, 'q', 0, &a), MP_E_INVAL);
        mp_slist *sl = NULL;
        CHECK_ST(mp_slist_open(n, SL_ITEMS, sizeof SL_ITEMS, 0, &sl), MP_E_INVAL);
        mp_lock *l = NULL;
        CHECK_ST(mp_lock_open(n, 0, &l), MP_E_INVAL);
        CHECK_ST(mp_lock_open(n, MP_LOCK_RECURSIVE, &l), MP_E_INVAL);
        mp_sem *se = NULL;
        CHECK_ST(mp_sem_open(n, 1, 0, &se), MP_E_INVAL);
        mp_event *e = NULL;
        CHECK_ST(mp_event_open(n, 0, &e), MP_E_INVAL);
        mp_cond *c = NULL;
        CHECK_ST(mp_cond_open(n, 0, &c), MP_E_INVAL);
        mp_barrier *b = NULL;
        CHECK_ST(mp_barrier_open(n, 2, 0, &b), MP_E_INVAL);
        CHECK_ST(mpq_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_shm_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_array_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_slist_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_lock_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_sem_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_event_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_cond_unlink(n), MP_E_INVAL);
        CHECK_ST(mp_barrier_unlink(n), MP_E_INVAL);
    }
    CHECK(count_dir("/dev/shm") == shm0);
    CHECK(count_dir("/dev") == dev0);
    CHECK(count_dir("/tmp") == tmp0);
    CHECK(count_dir(".") == cwd0);
    CHECK(access("/tmp/csec-escape", F_OK) != 0);
    CHECK(access("/dev/x", F_OK) != 0);

    /* The longest name works; a leading '/' is ignored. */
    keep_name(long200);
    mpq *q = NULL;
    mpq_options qo = {0};
    CHECK_OK(mpq_open(long200, &qo, &q));
    mpq_close(q);
    CHECK_OK(mpq_unlink(long200));
    char slashed[64];
    snprintf(slashed, sizeof slashed, "/%s", qname("slash"));
    mp_event *e = NULL;
    CHECK_OK(mp_event_open(slashed, 0, &e));
    CHECK(file_mode(seg_path("mpipc.ev.", slashed + 1)) == 0600);
    mp_event_close(e);
    CHECK_OK(mp_event_unlink(slashed + 1));
    CHECK(count_dir("/dev/shm") == shm0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_check_on_fail = on_fail;
    start_watchdog("test_security", 240);
    double t0 = now_ms();

    test_names();
    test_shm_lengths();
    test_frames();
    test_tcp_and_keys();
    test_modes_and_other_user();

    g_section = "end";
    alarm(0);
    unlink_paths();
    return check_summary("test_security", t0);
}
