// Every class of mpipc.hpp against an installed mpipc, with the errors
// each one is expected to throw (tests/install/test_install.sh builds it
// with pkg-config and with CMake). Usage: wrapper_cpp NAME; prints "ok".
#include <mpipc.hpp>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            std::fprintf(stderr, "wrapper_cpp:%d: CHECK(%s) failed\n", __LINE__, #cond);                              \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

// Runs f, which must throw mpipc::error with `status`.
template <class F> static void expect_error(int line, mp_status status, F f) {
    try {
        f();
        std::fprintf(stderr, "wrapper_cpp:%d: no exception, expected %s\n", line, mp_status_str(status));
        failures++;
    } catch (const mpipc::error &e) {
        if (e.status() != status || e.message().empty() || std::string(e.what()).find(e.status_name()) != 0) {
            std::fprintf(stderr, "wrapper_cpp:%d: got %s, expected %s\n", line, e.what(), mp_status_str(status));
            failures++;
        }
    }
}
#define EXPECT_ERROR(status, ...) expect_error(__LINE__, status, [&] { __VA_ARGS__; })

static mpipc::bytes cbor_text(const std::string &s) { // a short CBOR text string
    mpipc::bytes b{static_cast<std::uint8_t>(0x60 + s.size())};
    b.insert(b.end(), s.begin(), s.end());
    return b;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: wrapper_cpp NAME\n");
        return 2;
    }
    const std::string n = argv[1];
    using std::chrono::milliseconds;

    // Queue: options, batch of calls, JoinableQueue, shutdown.
    {
        mpq_options o{};
        o.maxsize = 1;
        mpipc::Queue q(n, o);
        CHECK(q.options().maxsize == 1 && q.empty() && !q.full());
        q.put(mpipc::bytes{1, 2, 3});
        CHECK(q.full() && q.qsize() == 1);
        EXPECT_ERROR(MP_E_FULL, q.put("x", 1, milliseconds(0)));
        CHECK((q.get() == mpipc::bytes{1, 2, 3}));
        CHECK(!q.join(milliseconds(0)));
        q.task_done();
        CHECK(q.join(milliseconds(0)));
        EXPECT_ERROR(MP_E_INVAL, q.task_done());
        q.shutdown();
        EXPECT_ERROR(MP_E_SHUTDOWN, q.put(std::string_view("late")));
        q.close();
        CHECK(!q);
        EXPECT_ERROR(MP_E_NULL, q.qsize());
        mpipc::Queue::unlink(n);
        EXPECT_ERROR(MP_E_INVAL, mpipc::Queue("bad/name"));
        mpq_options attach{};
        attach.flags = MPQ_ATTACH_ONLY;
        EXPECT_ERROR(MP_E_NOTFOUND, mpipc::Queue(n, attach));
    }

    // Pipe and Connection.
    {
        auto [a, b] = mpipc::Pipe();
        a.send(std::string_view("ping"));
        CHECK(b.poll(milliseconds(1000)));
        CHECK((b.recv() == mpipc::bytes{'p', 'i', 'n', 'g'}));
        CHECK(!b.poll());
        EXPECT_ERROR(MP_E_EMPTY, b.recv(milliseconds(0)));
        CHECK(a.fileno() >= 0);
        a.close();
        CHECK(a.fileno() == -1);
        EXPECT_ERROR(MP_E_EOF, b.recv(milliseconds(1000)));
    }

    // Listener + Connection::connect, with an authkey.
    {
        std::string path = "unix:/tmp/" + n + ".sock";
        mpipc::Listener l(path, "key");
        CHECK(l.address().find(n) != std::string::npos);
        std::thread t([&] {
            mpipc::Connection c = mpipc::Connection::connect(path, "key", milliseconds(5000));
            c.send(std::string_view("hi"));
        });
        mpipc::Connection s = l.accept(milliseconds(5000));
        CHECK((s.recv(milliseconds(5000)) == mpipc::bytes{'h', 'i'}));
        t.join();
        EXPECT_ERROR(MP_E_TIMEOUT, l.accept(milliseconds(10)));
        std::thread acceptor([&] { EXPECT_ERROR(MP_E_AUTH, l.accept(milliseconds(5000))); });
        EXPECT_ERROR(MP_E_AUTH, mpipc::Connection::connect(path, "wrong", milliseconds(5000)));
        acceptor.join();
        EXPECT_ERROR(MP_E_INVAL, mpipc::Listener("nonsense:addr"));
    }

    // ManagerServer + Manager.
    {
        mpipc::ManagerServer srv("unix:/tmp/" + n + ".mgr", "k");
        mpipc::Manager m(srv.address(), "k");
        mpipc::bytes key = cbor_text("hits");
        CHECK(m.dict_incr("d", key, 2) == 2);
        CHECK(m.dict_incr("d", key) == 3);
        m.dict_set("d", cbor_text("s"), cbor_text("v"));
        CHECK(m.dict_get("d", cbor_text("s")) == cbor_text("v"));
        CHECK(m.dict_len("d") == 2);
        m.dict_del("d", cbor_text("s"));
        EXPECT_ERROR(MP_E_NOTFOUND, m.dict_get("d", cbor_text("s")));
        mpipc::bytes args{0x81}; // ["hits"]
        args.insert(args.end(), key.begin(), key.end());
        CHECK((m.call("dict", "d", "get", args) == mpipc::bytes{0x03}));
        EXPECT_ERROR(MP_E_UNSUPPORTED, m.call("dict", "d", "no_such_method", mpipc::bytes{0x80}));
        EXPECT_ERROR(MP_E_AUTH, mpipc::Manager(srv.address(), "wrong"));
    }

    // SharedMemory.
    {
        mpipc::SharedMemory s(n, 4096);
        CHECK(s.size() == 4096);
        std::memcpy(s.data(), "abc", 3);
        mpipc::SharedMemory s2(n, 0);
        CHECK(std::memcmp(s2.data(), "abc", 3) == 0);
        EXPECT_ERROR(MP_E_INVAL, mpipc::SharedMemory(n, 10));
        mpipc::SharedMemory::unlink(n);
        EXPECT_ERROR(MP_E_NOTFOUND, mpipc::SharedMemory::unlink(n));
    }

    // Array / Value, Lockable.
    {
        mpipc::Array a(n, 'd', 4);
        CHECK(a.size() == 4 && a.typecode() == 'd' && a.itemsize() == 8);
        a.set_f64(1, 2.5);
        CHECK(a.get_f64(1) == 2.5);
        double buf[4];
        a.read(0, buf, 4);
        CHECK(buf[1] == 2.5);
        buf[3] = 7;
        a.write(0, buf, 4);
        CHECK(static_cast<double *>(a.data())[3] == 7);
        {
            std::lock_guard<mpipc::Array> g(a);
            CHECK(!a.owner_died());
        }
        CHECK(a.try_lock());
        a.unlock();
        EXPECT_ERROR(MP_E_INDEX, a.get_f64(4));
        mpipc::Array::unlink(n);
        mpipc::Array v = mpipc::Array::value(n, 'q');
        CHECK(v.incr(0, 5) == 5 && v.get_i64(0) == 5);
        v.set_u64(0, 9);
        CHECK(v.get_u64(0) == 9);
        EXPECT_ERROR(MP_E_TYPE, mpipc::Array(n, 'd', 1));
        mpipc::Array::unlink(n);
    }

    // Lock, Condition, Semaphore, Event, Barrier.
    {
        mpipc::Lock l(n);
        mpipc::Condition c(n);
        CHECK(l.try_lock());
        CHECK(!c.wait(l, milliseconds(10))); // times out, lock re-held
        l.unlock();
        EXPECT_ERROR(MP_E_PERM, l.unlock());
        EXPECT_ERROR(MP_E_PERM, c.wait(l, milliseconds(10)));
        c.notify();
        c.notify_all();
        {
            std::unique_lock<mpipc::Lock> g(l);
            CHECK(g.owns_lock());
        }
        // A holder killed while holding: the next acquire takes it over.
        pid_t pid = fork();
        if (pid == 0) {
            mpipc::Lock cl(n);
            cl.lock();
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        CHECK(l.acquire(milliseconds(5000)) && l.owner_died());
        l.release();
        mpipc::Lock::unlink(n);
        mpipc::Condition::unlink(n);

        mpipc::Semaphore s(n, 1, MP_SEM_BOUNDED);
        CHECK(s.value() == 1 && s.acquire(milliseconds(0)) && !s.acquire(milliseconds(0)));
        s.release();
        EXPECT_ERROR(MP_E_INVAL, s.release());
        mpipc::Semaphore::unlink(n);

        mpipc::Event e(n);
        CHECK(!e.is_set() && !e.wait(milliseconds(0)));
        e.set();
        CHECK(e.is_set() && e.wait());
        e.clear();
        mpipc::Event::unlink(n);

        mpipc::Barrier b(n, 2);
        CHECK(b.parties() == 2 && b.n_waiting() == 0 && !b.broken());
        std::thread t([&] { mpipc::Barrier(n, 2).wait(milliseconds(5000)); });
        std::uint32_t i = b.wait(milliseconds(5000));
        t.join();
        CHECK(i < 2);
        EXPECT_ERROR(MP_E_BROKEN, b.wait(milliseconds(10)));
        CHECK(b.broken());
        b.reset();
        b.abort();
        EXPECT_ERROR(MP_E_BROKEN, b.wait(milliseconds(0)));
        mpipc::Barrier::unlink(n);
    }

    // ShareableList.
    {
        mpipc::bytes items{0x82, 0x01, 0x63, 'a', 'b', 'c'}; // [1, "abc"]
        mpipc::ShareableList l(n, items);
        CHECK(l.size() == 2);
        CHECK((l.get(0) == mpipc::bytes{0x01}));
        l.set(1, cbor_text("xyz"));
        mpipc::ShareableList l2 = mpipc::ShareableList::attach(n);
        CHECK(l2.get(1) == cbor_text("xyz") && l2.capacity(1) >= 3);
        EXPECT_ERROR(MP_E_INDEX, l.get(2));
        EXPECT_ERROR(MP_E_TYPE, l.set(0, mpipc::bytes{0x80}));
        mpipc::ShareableList::unlink(n);
        EXPECT_ERROR(MP_E_NOTFOUND, mpipc::ShareableList::attach(n));
    }

    if (failures != 0) {
        std::fprintf(stderr, "wrapper_cpp: %d failure(s)\n", failures);
        return 1;
    }
    std::printf("ok\n");
    return 0;
}
